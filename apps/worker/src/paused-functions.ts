import type { JobStore } from '@beamline/jobs';

/** A pause reaches a node within about this long (ms): a function's entry older than this is read again in the background. */
export const PAUSED_REFRESH_MS = 500;
/** An entry older than this (its function ran no job for a while) is read again before a job starts (ms). */
const PAUSED_STALE_MS = 1_000;
/** Entries kept at most before those too old to be used are dropped. */
const MOST_ENTRIES = 10_000;

export type PausedStore = Pick<JobStore, 'pausedAmong'>;

interface Waiter {
  resolve(paused: boolean): void;
  reject(error: unknown): void;
}

interface Entry {
  paused: boolean;
  readAt: number;
}

/**
 * The node's view of which functions are paused (ADR 0016), kept per function whose jobs it
 * starts: each entry is read again at most twice a second while its jobs start, and the reads of
 * one turn of the event loop go to Redis together. No read covers the whole paused set, so another
 * tenant pausing many functions costs this node nothing.
 */
export class PausedFunctions {
  private readonly entries = new Map<string, Entry>();
  /** Reads asked for in this turn of the event loop, sent together. */
  private batch: Map<string, Array<Waiter>> | undefined;
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly store: PausedStore) {}

  /** Whether `member` (`pausedMember(tenant, function)`) is paused, as of at most a second ago. */
  async isPaused(member: string): Promise<boolean> {
    const entry = this.entries.get(member);
    const age = entry === undefined ? Number.POSITIVE_INFINITY : Date.now() - entry.readAt;
    if (entry === undefined || age > PAUSED_STALE_MS) return this.read(member);
    if (age > PAUSED_REFRESH_MS) void this.read(member).catch(() => undefined);
    return entry.paused;
  }

  /** Entries held (for tests and stats). */
  get size(): number {
    return this.entries.size;
  }

  private read(member: string): Promise<boolean> {
    const reading = this.inFlight.get(member);
    if (reading) return reading;
    const asked = new Promise<boolean>((resolve, reject) => {
      if (this.batch === undefined) {
        this.batch = new Map();
        process.nextTick(() => this.flush());
      }
      const waiting = this.batch.get(member);
      if (waiting) waiting.push({ resolve, reject });
      else this.batch.set(member, [{ resolve, reject }]);
    });
    this.inFlight.set(member, asked);
    const done = () => this.inFlight.delete(member);
    asked.then(done, done);
    return asked;
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = undefined;
    if (batch === undefined) return;
    const members = [...batch.keys()];
    this.store.pausedAmong(members).then(
      (paused) => {
        const now = Date.now();
        this.prune(now);
        members.forEach((member, i) => {
          const value = paused[i] === true;
          this.entries.set(member, { paused: value, readAt: now });
          for (const waiter of batch.get(member) ?? []) waiter.resolve(value);
        });
      },
      (error: unknown) => {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  /** Keeps the map bounded: once full, drops the entries too old to be used without a read anyway. */
  private prune(now: number): void {
    if (this.entries.size < MOST_ENTRIES) return;
    for (const [member, entry] of this.entries) {
      if (now - entry.readAt > PAUSED_STALE_MS) this.entries.delete(member);
    }
  }
}
