import type { BeamlineClient, DeployResult } from '../../client/client.js';
import type { FunctionDefaults } from '../../client/types.js';
import { type Bundle, bundleFunction, checkEntry, functionNameFor } from '../bundle.js';
import { defineCommand } from '../command.js';
import { formatBytes } from '../format.js';
import type { Output } from '../output.js';
import { readJsonArgument } from '../values.js';

export const deployCommand = defineCommand({
  path: ['deploy'],
  args: ['entry'],
  summary: 'Bundle a function and deploy it as a new version.',
  details: [
    'The entry (TypeScript or JavaScript) is bundled with esbuild into one ES module with its npm',
    'dependencies inlined; its default export is the function. Node built-ins (node:fs, crypto, …) are',
    'refused, naming the files that import them: jobs run in a sandbox with the job runtime only.',
    "The name defaults to the entry file's name (its folder's for index.ts).",
  ].join('\n'),
  options: {
    name: { type: 'string', value: 'NAME', description: 'the function name (default: from the entry file)' },
    defaults: {
      type: 'string',
      value: 'JSON|@file',
      description: 'default limits of its jobs: {"timeoutMs", "cpuMs", "memoryMb", "priority", "attempts", "backoff"}',
    },
  },
  async run({ args, options, out, client }) {
    const entry = checkEntry(args[0] as string);
    const name = functionNameFor(entry, options.name);
    const defaults =
      options.defaults === undefined
        ? undefined
        : (readJsonArgument(options.defaults, '--defaults') as FunctionDefaults);
    const bundle = await bundleFunction(entry);
    const deployed = await deployBundle(client(), name, bundle, defaults);
    reportDeploy(out, deployed, bundle);
    return 0;
  },
});

export function deployBundle(
  client: BeamlineClient,
  name: string,
  bundle: Bundle,
  defaults?: FunctionDefaults,
): Promise<DeployResult> {
  return client.functions.deploy(name, bundle.code, defaults === undefined ? {} : { defaults });
}

export function deployLine(deployed: DeployResult, bundle: Bundle): string {
  const what = `${deployed.name} version ${deployed.version} (sha256 ${deployed.sha256?.slice(0, 12)}, ${formatBytes(bundle.bytes)})`;
  return deployed.created ? `deployed ${what}` : `unchanged: ${what} is already the latest version`;
}

function reportDeploy(out: Output, deployed: DeployResult, bundle: Bundle): void {
  out.result({ ...deployed, bytes: bundle.bytes }, () => deployLine(deployed, bundle));
}
