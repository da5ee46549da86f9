import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The kernel's view of a thread of this OS process (Linux): CPU time from its schedstat and its
 * nice value. Elsewhere CPU time is unavailable and nice values are not per thread.
 */

/** Nanoseconds the thread has run on a CPU, or undefined when the thread is gone or unknown. */
export function threadCpuNs(tid: number | undefined): number | undefined {
  if (tid === undefined) return undefined;
  try {
    const schedstat = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1');
    return Number(schedstat.slice(0, schedstat.indexOf(' ')));
  } catch {
    return undefined;
  }
}

/** Sets a thread's nice value; returns the error message when the OS refuses. */
export function setThreadNice(tid: number, nice: number): string | undefined {
  try {
    os.setPriority(tid, nice);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The calling thread's nice value (the main thread's, when called there). */
export function ownNice(): number {
  try {
    return os.getPriority(0);
  } catch {
    return 0;
  }
}
