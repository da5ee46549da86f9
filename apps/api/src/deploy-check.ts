import { checkFunctionModule, type ModuleCheck, ModuleCheckUnavailableError } from '@beamline/runtime';
import { ApiError } from './problem.js';

/** Checks run at once (each holds one short-lived sandbox); more wait, up to MAX_WAITING. */
const MAX_CHECKING = 2;
const MAX_WAITING = 32;
/** The heap a check gets unless the function's defaults ask for less (top-level code is small). */
const CHECK_MEMORY_MB = 256;

/**
 * The deploy-time check: a bundle is compiled, linked and its top level run in a sandbox confined
 * as jobs are (libs/runtime checkFunctionModule), never in the API's process, before the registry
 * stores it. What it finds becomes a 400 a user can act on: the problem, line, column and frame.
 */
export class DeployChecker {
  private checking = 0;
  private readonly waiting: Array<() => void> = [];

  async check(source: string, memoryMb: number | undefined): Promise<void> {
    await this.turn();
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
      this.waiting.shift()?.();
    }
    if (result.ok) return;
    const { ok: _ok, message, ...where } = result;
    throw new ApiError(400, 'Invalid function', message, {
      ...where,
      errors: [{ path: where.line === undefined ? '(body)' : `(body):${where.line}:${where.column ?? 1}`, message }],
    });
  }

  private async turn(): Promise<void> {
    if (this.checking < MAX_CHECKING) {
      this.checking++;
      return;
    }
    if (this.waiting.length >= MAX_WAITING) {
      throw new ApiError(
        429,
        'Too many deploys',
        'Too many deploys are being checked; retry shortly.',
        {},
        {
          'retry-after': '1',
        },
      );
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.checking++;
  }
}
