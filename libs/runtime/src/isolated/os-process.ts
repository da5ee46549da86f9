import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';

/**
 * The kernel's view of a sandbox process (Linux): CPU time of all its threads, resident memory,
 * its children and nice values. Each reader keeps its /proc file open, so a reading is one pread.
 */

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat on every Linux architecture Node runs on. */
const TICK_NS = 10_000_000;
const PAGE_BYTES = 4096;

class ProcFile {
  private fd: number | undefined;
  private readonly buffer = Buffer.alloc(1024);

  constructor(path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch {
      this.fd = undefined;
    }
  }

  read(): string | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const length = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
      return this.buffer.toString('latin1', 0, length);
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
  }
}

/** CPU time and resident memory of one process, all threads included (dead ones too). */
export class ProcessClock {
  private readonly stat: ProcFile;
  private readonly statm: ProcFile;

  constructor(readonly pid: number) {
    this.stat = new ProcFile(`/proc/${pid}/stat`);
    this.statm = new ProcFile(`/proc/${pid}/statm`);
  }

  /** Nanoseconds of CPU (user + system) the process has used, or undefined once it is gone. */
  cpuNs(): number | undefined {
    const text = this.stat.read();
    if (text === undefined) return undefined;
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return (utime + stime) * TICK_NS;
  }

  /** Resident set size in bytes, or undefined once the process is gone. */
  residentBytes(): number | undefined {
    const text = this.statm.read();
    if (text === undefined) return undefined;
    const pages = Number(text.split(' ')[1]);
    return Number.isFinite(pages) ? pages * PAGE_BYTES : undefined;
  }

  close(): void {
    this.stat.close();
    this.statm.close();
  }
}

/** The pids of a process's children (Linux 3.5+), empty when unknown. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The pids of a process's descendants, depth first. */
export function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** Sets the nice value of every thread of a process; returns the error message when the OS refuses. */
export function setProcessNice(pid: number, nice: number): string | undefined {
  let tids: number[];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    tids = [pid];
  }
  for (const tid of tids) {
    try {
      os.setPriority(tid, nice);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') continue;
      return error instanceof Error ? error.message : String(error);
    }
  }
  return undefined;
}

/** The calling thread's nice value (the main thread's, when called there). */
export function ownNice(): number {
  try {
    return os.getPriority(0);
  } catch {
    return 0;
  }
}
