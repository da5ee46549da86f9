import type { FunctionRegistry } from '@beamline/jobs';
import type { FunctionModule } from '@beamline/runtime';

/** Function bundles fetched from the registry by sha256, kept in memory (they never change). */
export class FunctionCache {
  private readonly modules = new Map<string, Promise<FunctionModule>>();

  constructor(private readonly registry: FunctionRegistry) {}

  get(sha256: string, label: string): Promise<FunctionModule> {
    let module = this.modules.get(sha256);
    if (!module) {
      module = this.fetch(sha256, label);
      this.modules.set(sha256, module);
      module.catch(() => this.modules.delete(sha256));
    }
    return module;
  }

  get size(): number {
    return this.modules.size;
  }

  private async fetch(sha256: string, label: string): Promise<FunctionModule> {
    const source = await this.registry.bundle(sha256);
    if (source === undefined) throw new Error(`The bundle of ${label} (sha256 ${sha256}) is not in the registry.`);
    return { id: `${label}#${sha256.slice(0, 12)}`, source };
  }
}
