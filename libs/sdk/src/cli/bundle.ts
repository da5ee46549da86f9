import { statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, extname, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { OperationFailed, UsageError } from './command.js';

/** A function module ready to deploy: one self-contained ES module with a default export. */
export interface Bundle {
  readonly code: string;
  readonly bytes: number;
}

/** What the function registry accepts as a name. */
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;

/** `node:anything`, and Node's built-in modules with or without a subpath (`fs`, `fs/promises`). */
const NODE_BUILTIN = new RegExp(
  `^(?:node:.+|(?:${builtinModules
    .filter((name) => !name.startsWith('node:'))
    .map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('|')})(?:/.+)?)$`,
);

/** The entry file, checked to exist: a usage error otherwise. */
export function checkEntry(entry: string): string {
  const path = resolve(entry);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new UsageError(`${entry} does not exist: give the function's entry file, e.g. src/index.ts.`);
  }
  if (!isFile) throw new UsageError(`${entry} is not a file: give the function's entry file, e.g. ${entry}/index.ts.`);
  return path;
}

/** The name a function gets from its entry: the file's name, or its folder's for an `index` file. */
export function functionNameFor(entry: string, given?: string): string {
  const stem = basename(entry, extname(entry));
  const name = given ?? (stem === 'index' ? basename(dirname(resolve(entry))) : stem);
  if (!FUNCTION_NAME.test(name)) {
    const hint = given === undefined ? '; pass --name' : '';
    throw new UsageError(
      `${JSON.stringify(name)} is not a function name: 1–100 letters, digits, "_" or "-", starting with a letter${hint}.`,
    );
  }
  return name;
}

/** esbuild's options for a function bundle: TypeScript in, one ESM module out, dependencies inlined, no Node. */
export function bundleOptions(entryPath: string): esbuild.BuildOptions & { metafile: true; write: false } {
  return {
    entryPoints: [entryPath],
    absWorkingDir: process.cwd(),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2023',
    mainFields: ['module', 'main'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    charset: 'utf8',
    legalComments: 'none',
    plugins: [externalNodeBuiltins],
  };
}

/** Keeps Node built-ins out of the bundle, so that the check after the build can name every one and who imports it. */
const externalNodeBuiltins: esbuild.Plugin = {
  name: 'beamline-node-builtins',
  setup(build) {
    build.onResolve({ filter: NODE_BUILTIN }, (args) => ({ path: args.path, external: true }));
  },
};

/** Bundles the entry, or throws: OperationFailed for code that cannot run as a function. */
export async function bundleFunction(entryPath: string): Promise<Bundle> {
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build(bundleOptions(entryPath));
  } catch (error) {
    const errors = (error as esbuild.BuildFailure).errors;
    if (!Array.isArray(errors)) throw error;
    throw new OperationFailed(await describeBuildErrors(entryPath, errors));
  }
  return checkedBundle(entryPath, result);
}

/** The one-line summary and esbuild's own report of the errors of a failed build. */
export async function describeBuildErrors(entryPath: string, errors: esbuild.Message[]): Promise<string> {
  const report = await esbuild.formatMessages(errors, { kind: 'error', color: false });
  const count = errors.length === 1 ? 'an error' : `${errors.length} errors`;
  return `Cannot bundle ${shown(entryPath)}: ${count}.\n${report.join('').trimEnd()}`;
}

/** The bundle of a successful build, if it can run as a function: no Node built-ins, a default export. */
export function checkedBundle(
  entryPath: string,
  result: esbuild.BuildResult<{ metafile: true; write: false }>,
): Bundle {
  const { metafile } = result;
  const refused = nodeImports(metafile);
  if (refused.length > 0) {
    const width = Math.max(...refused.map((r) => r.module.length));
    const lines = refused.map((r) => `  ${r.module.padEnd(width)}  imported by ${r.chain.join(' → ')}`);
    throw new OperationFailed(
      [
        `Cannot deploy ${shown(entryPath)}: it imports Node built-in modules, which the job sandbox does not have: ${refused.map((r) => r.module).join(', ')}.`,
        ...lines,
        'Use the job runtime instead (fetch, crypto.subtle, TextEncoder, URL, timers, ctx), or a package that does not need Node.',
      ].join('\n'),
    );
  }
  const output = Object.values(metafile.outputs)[0];
  if (!output?.exports.includes('default')) {
    throw new OperationFailed(
      `Cannot deploy ${shown(entryPath)}: it has no default export; end it with "export default defineFunction(async (input, ctx) => …)".`,
    );
  }
  const code = result.outputFiles[0]?.text ?? '';
  return { code, bytes: Buffer.byteLength(code) };
}

interface RefusedImport {
  readonly module: string;
  /** From the entry to the importing file, then the module. */
  readonly chain: readonly string[];
}

/** Every Node built-in the bundle imports, with the chain of files from the entry that leads to it. */
function nodeImports(metafile: esbuild.Metafile): RefusedImport[] {
  const entry = Object.values(metafile.outputs)[0]?.entryPoint;
  if (entry === undefined) return [];
  const parentOf = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const refused: RefusedImport[] = [];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const imported of metafile.inputs[file]?.imports ?? []) {
      if (imported.external && NODE_BUILTIN.test(imported.path)) {
        const key = `${imported.path}\0${file}`;
        if (!seen.has(key)) {
          seen.add(key);
          refused.push({ module: imported.path, chain: [...chainTo(file, parentOf), imported.path] });
        }
      } else if (!imported.external && !parentOf.has(imported.path)) {
        parentOf.set(imported.path, file);
        queue.push(imported.path);
      }
    }
  }
  return refused;
}

function chainTo(file: string, parentOf: ReadonlyMap<string, string | undefined>): string[] {
  const chain: string[] = [];
  for (let at: string | undefined = file; at !== undefined; at = parentOf.get(at)) chain.unshift(at);
  return chain;
}

/** A path as the user would write it, relative to where the CLI runs. */
function shown(path: string): string {
  return relative(process.cwd(), path) || path;
}
