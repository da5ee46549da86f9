import { PRIORITIES, type Priority } from '../priority.js';

/** After this many normal-priority picks in a row, a waiting low-priority entry goes next. */
export const LOW_EVERY = 8;

interface Entry<T> {
  readonly item: T;
  queued: boolean;
}

/**
 * Processes waiting for a scheduler slot, as on the BEAM: max before high before normal/low,
 * arrival order within a priority, and low still gets a turn after every LOW_EVERY normal ones
 * so that it is never starved by normal work.
 */
export class RunQueue<T> {
  private readonly queues: Record<Priority, Array<Entry<T>>> = { max: [], high: [], normal: [], low: [] };
  private readonly heads: Record<Priority, number> = { max: 0, high: 0, normal: 0, low: 0 };
  private readonly counts: Record<Priority, number> = { max: 0, high: 0, normal: 0, low: 0 };
  private readonly entries = new Map<T, Entry<T>>();
  private normalStreak = 0;

  get length(): number {
    return this.entries.size;
  }

  lengths(): Record<Priority, number> {
    return { ...this.counts };
  }

  push(item: T, priority: Priority): void {
    const entry: Entry<T> = { item, queued: true };
    this.entries.set(item, entry);
    this.queues[priority].push(entry);
    this.counts[priority]++;
  }

  /** Removes an item that no longer waits (it was killed while queued). */
  remove(item: T, priority: Priority): boolean {
    const entry = this.entries.get(item);
    if (!entry) return false;
    entry.queued = false;
    this.entries.delete(item);
    this.counts[priority]--;
    this.compact(priority);
    return true;
  }

  /** The next item to run, or undefined when none waits. */
  pop(): T | undefined {
    for (const priority of PRIORITIES) {
      if (this.counts[priority] === 0) continue;
      const chosen = this.choose(priority);
      const entry = this.shift(chosen);
      this.entries.delete(entry.item);
      this.counts[chosen]--;
      return entry.item;
    }
    return undefined;
  }

  private choose(highestWaiting: Priority): Priority {
    if (highestWaiting !== 'normal') return highestWaiting;
    if (this.counts.low === 0) {
      this.normalStreak = 0;
      return 'normal';
    }
    if (this.normalStreak >= LOW_EVERY) {
      this.normalStreak = 0;
      return 'low';
    }
    this.normalStreak++;
    return 'normal';
  }

  /** Drops removed entries once they outnumber the waiting ones, so killing queued processes frees memory. */
  private compact(priority: Priority): void {
    const queue = this.queues[priority];
    const held = queue.length - this.heads[priority];
    if (held < 64 || held < 2 * this.counts[priority]) return;
    this.queues[priority] = queue.slice(this.heads[priority]).filter((entry) => entry.queued);
    this.heads[priority] = 0;
  }

  private shift(priority: Priority): Entry<T> {
    const queue = this.queues[priority];
    for (;;) {
      const entry = queue[this.heads[priority]++] as Entry<T>;
      if (this.heads[priority] === queue.length) {
        queue.length = 0;
        this.heads[priority] = 0;
      }
      if (entry.queued) return entry;
    }
  }
}
