import { closeSync, openSync, readSync } from 'node:fs';
import os from 'node:os';

/**
 * The kernel's view of a thread of this OS process (Linux): CPU time from its schedstat and its
 * nice value. Elsewhere CPU time is unavailable and nice values are not per thread.
 */

/** Reads one thread's CPU time; keeps its schedstat file open, so a reading is a single pread. */
export class ThreadCpuClock {
  private fd: number | undefined;
  private readonly buffer = Buffer.alloc(96);

  constructor(tid: number) {
    try {
      this.fd = openSync(`/proc/self/task/${tid}/schedstat`, 'r');
    } catch {
      this.fd = undefined;
    }
  }

  /** Nanoseconds the thread has run on a CPU, or undefined once it is gone. */
  read(): number | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const length = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
      const space = this.buffer.indexOf(32);
      return Number(this.buffer.toString('latin1', 0, space > 0 ? space : length));
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
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
