import { checkFunctionModule, type ModuleCheck, ModuleCheckUnavailableError } from '@beamline/runtime';
import { ApiError } from './problem.js';

/** Checks run at once (each holds one short-lived sandbox); more wait, in turns between tenants. */
const MAX_CHECKING = 2;
/** Deploys of one tenant waiting for a check; beyond them that tenant (only) gets a 429. */
const MAX_WAITING_PER_TENANT = 4;
/** The heap a check gets unless the function's defaults ask for less (top-level code is small). */
const CHECK_MEMORY_MB = 256;

/**
 * The deploy-time check: a bundle is compiled, linked and its top level run in a sandbox confined
 * as jobs are (libs/runtime checkFunctionModule), never in the API's process, before the registry
 * stores it. What it finds becomes a 400 a user can act on: the problem, line, column and frame.
 */
export class DeployChecker {
  private checking = 0;
  /** Waiting deploys by tenant, served one tenant after another. */
  private readonly waiting = new Map<string, Array<() => void>>();

  async check(tenant: string, source: string, memoryMb: number | undefined): Promise<void> {
    await this.turn(tenant);
    let result: ModuleCheck;
    try {
      result = await checkFunctionModule(source, { memoryMb: Math.min(memoryMb ?? CHECK_MEMORY_MB, CHECK_MEMORY_MB) });
    } catch (error) {
      if (error instanceof ModuleCheckUnavailableError) {
        throw new ApiError(503, 'Service unavailable', `The deploy check could not start a sandbox: ${error.message}`);
      }
      throw error;
    } finally {
      this.checking--;
      this.next();
    }
    if (result.ok) return;
    const { ok: _ok, message, ...where } = result;
    throw new ApiError(400, 'Invalid function', message, {
      ...where,
      errors: [{ path: where.line === undefined ? '(body)' : `(body):${where.line}:${where.column ?? 1}`, message }],
    });
  }

  private async turn(tenant: string): Promise<void> {
    if (this.checking < MAX_CHECKING && this.waiting.size === 0) {
      this.checking++;
      return;
    }
    const queue = this.waiting.get(tenant) ?? [];
    if (queue.length >= MAX_WAITING_PER_TENANT) {
      throw new ApiError(
        429,
        'Too many deploys',
        `${MAX_WAITING_PER_TENANT} of your deploys are already waiting to be checked; retry shortly.`,
        {},
        { 'retry-after': '1' },
      );
    }
    this.waiting.set(tenant, queue);
    await new Promise<void>((resolve) => queue.push(resolve));
  }

  /** Starts the next waiting deploy: the first tenant's in line, which then goes to the back. */
  private next(): void {
    const first = this.waiting.entries().next();
    if (first.done) return;
    const [tenant, queue] = first.value;
    const start = queue.shift() as () => void;
    this.waiting.delete(tenant);
    if (queue.length > 0) this.waiting.set(tenant, queue);
    this.checking++;
    start();
  }
}
