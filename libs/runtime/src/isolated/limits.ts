import { BadArgError } from '../errors.js';

/** What an isolated process may use before it is killed, each with its own exit reason. */
export interface ProcessLimits {
  /** Wall-clock time from the start of its run (not its wait for a slot); exit reason `timeout`. */
  readonly timeoutMs?: number;
  /** CPU time of all threads of its sandbox, from the kernel's accounting; exit reason `cpu_limit`. */
  readonly cpuMs?: number;
  /** Memory in megabytes: the V8 heap limit, and all resident memory its sandbox gains (array buffers included); exit reason `memory_limit`. */
  readonly memoryMb?: number;
}

/** The longest delay a Node timer takes (about 24.8 days); longer ones would fire at once. */
export const MAX_LIMIT_MS = 2_147_483_647;

/** V8 cannot start an isolate with much less than this. */
export const MIN_MEMORY_MB = 16;

export function assertLimits(limits: ProcessLimits, where: string): void {
  positive(limits.timeoutMs, `${where}.timeoutMs`);
  positive(limits.cpuMs, `${where}.cpuMs`);
  if (limits.memoryMb !== undefined) {
    if (!Number.isInteger(limits.memoryMb) || limits.memoryMb < MIN_MEMORY_MB) {
      throw new BadArgError(
        `${where}.memoryMb must be a whole number of megabytes ≥ ${MIN_MEMORY_MB}; got ${String(limits.memoryMb)}.`,
      );
    }
  }
}

function positive(value: number | undefined, where: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value > 0) || value > MAX_LIMIT_MS) {
    throw new BadArgError(
      `${where} must be a number of milliseconds > 0 and ≤ ${MAX_LIMIT_MS} (omit it for no limit); got ${String(value)}.`,
    );
  }
}
