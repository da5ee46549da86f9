#!/usr/bin/env node
// The `beamline` command. Its code is compiled into dist/ (`npm run build`, which `npm start`
// runs); this file exists before that, so that npm links the command at install time.
try {
  await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli/main.js')) throw error;
  console.error('beamline: the CLI is not built yet; run `npm run build` (or `npm start`) at the repository root.');
  process.exitCode = 3;
}
