import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { BUILTIN_TENANT, type FunctionRegistry } from '@beamline/jobs';

/** The directory of built-in functions that ships with the worker (beside src/ or dist/, or above dist-bench/src/). */
export const BUILTINS_DIR = [
  new URL('../functions/', import.meta.url),
  new URL('../../functions/', import.meta.url),
].find((url) => existsSync(url)) as URL;

/** Per-function defaults of the built-ins that would otherwise run without bound. */
const DEFAULTS: Record<string, object> = {
  loop: { timeoutMs: 60_000 },
  allocate: { memoryMb: 64, timeoutMs: 60_000 },
};

/** Publishes every built-in function to the registry (a new version only when its source changed). */
export async function publishBuiltins(registry: FunctionRegistry): Promise<Record<string, number>> {
  const published: Record<string, number> = {};
  for (const file of readdirSync(BUILTINS_DIR)
    .filter((f) => f.endsWith('.js'))
    .sort()) {
    const name = file.slice(0, -'.js'.length);
    const source = readFileSync(new URL(file, BUILTINS_DIR), 'utf8');
    const deployed = await registry.deploy(BUILTIN_TENANT, name, source, DEFAULTS[name] ?? {}, { builtin: true });
    published[name] = deployed.version;
  }
  return published;
}
