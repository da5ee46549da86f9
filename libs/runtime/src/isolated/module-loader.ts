import vm from 'node:vm';

/**
 * How a sandbox compiles and links a function module: `vm.SourceTextModule`, every import
 * refused, static or dynamic. The deploy-time check (check-entry.ts) loads modules with exactly
 * this code, so that a module the check accepts is one a job's sandbox can load. Runs in a
 * sandbox process, never in the node.
 */

const NO_IMPORTS =
  'job code runs in a sandbox without Node built-ins, packages or files: bundle its dependencies into the one module you deploy, and use the job runtime (fetch, crypto, URL, TextEncoder, timers, ctx)';

/** What a sandbox throws for any `import` of a function module. */
export class ImportRefused extends Error {
  constructor(readonly specifier: string) {
    super(`Cannot import "${specifier}": ${NO_IMPORTS}.`);
    // The name jobs have always seen for a refused import.
    this.name = 'Error';
  }
}

function refuseImport(specifier: string): never {
  throw new ImportRefused(specifier);
}

/** Compiles module source (throws its SyntaxError); a dynamic `import()` in it will be refused. */
export function compileFunctionModule(source: string, identifier: string): vm.SourceTextModule {
  return new vm.SourceTextModule(source, {
    identifier,
    importModuleDynamically: ((specifier: string) => refuseImport(specifier)) as never,
  });
}

/** Links a compiled module; rejects with ImportRefused at its first static import. */
export async function linkFunctionModule(module: vm.SourceTextModule): Promise<void> {
  await module.link((specifier) => refuseImport(specifier));
}
