/** Decides whether `receive` takes a message. A type guard narrows what `receive` returns. */
export type Matcher<T = unknown> = ((message: unknown) => message is T) | ((message: unknown) => boolean);

/** A pending `receive`. */
export interface Waiter {
  readonly match: Matcher | undefined;
  readonly resolve: (message: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const COMPACT_AT = 1024;

/**
 * A process's message queue with Erlang's selective receive: `take` returns the first message
 * that matches and leaves the others in arrival order; a message that arrives while its owner
 * waits is handed to the earliest pending receive that accepts it (a process may wait in
 * several receives at once, e.g. concurrent calls).
 */
export class Mailbox {
  private items: unknown[] = [];
  private head = 0;
  /** The earliest pending receive; later ones, rare, wait in `laterWaiters`. */
  private firstWaiter: Waiter | undefined;
  private laterWaiters: Waiter[] | undefined;

  get length(): number {
    return this.items.length - this.head;
  }

  get isWaiting(): boolean {
    return this.firstWaiter !== undefined;
  }

  /** Delivers a message. Returns true when it settled a pending receive. */
  push(message: unknown): boolean {
    let settled = false;
    let waiter = this.firstWaiter;
    let index = -1;
    while (waiter) {
      const outcome = offer(waiter, message);
      if (outcome !== 'declined') {
        this.removeWaiterAt(index);
        settled = true;
        if (outcome === 'taken') return true;
      } else {
        index++;
      }
      waiter = index < 0 ? this.firstWaiter : this.laterWaiters?.[index];
    }
    this.items.push(message);
    return settled;
  }

  /** Removes and returns the first matching message, or `NOT_FOUND`. A throwing matcher throws here. */
  take(match: Matcher | undefined): unknown {
    const items = this.items;
    for (let i = this.head; i < items.length; i++) {
      const message = items[i];
      if (match === undefined || match(message)) {
        if (i === this.head) {
          items[i] = undefined;
          this.head++;
          this.compact();
        } else {
          items.splice(i, 1);
        }
        return message;
      }
    }
    return NOT_FOUND;
  }

  /** Registers a pending receive, after those already waiting. */
  wait(waiter: Waiter): void {
    if (this.firstWaiter === undefined) {
      this.firstWaiter = waiter;
    } else {
      this.laterWaiters ??= [];
      this.laterWaiters.push(waiter);
    }
  }

  /** Drops a pending receive (its timeout passed). */
  stopWaiting(waiter: Waiter): void {
    if (this.firstWaiter === waiter) this.removeWaiterAt(-1);
    else {
      const index = this.laterWaiters?.indexOf(waiter) ?? -1;
      if (index >= 0) this.removeWaiterAt(index);
    }
  }

  /** Fails every pending receive with `error`. */
  abort(error: unknown): void {
    const waiters = [this.firstWaiter, ...(this.laterWaiters ?? [])];
    this.firstWaiter = undefined;
    this.laterWaiters = undefined;
    for (const waiter of waiters) waiter?.reject(error);
  }

  /** -1 is the first waiter, 0… index the later ones. */
  private removeWaiterAt(index: number): void {
    if (index >= 0) {
      this.laterWaiters?.splice(index, 1);
    } else {
      this.firstWaiter = this.laterWaiters?.shift();
    }
    if (this.laterWaiters?.length === 0) this.laterWaiters = undefined;
  }

  /** Removes every message that matches `match` (used to flush DOWN messages). */
  discard(match: Matcher): void {
    const kept: unknown[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const message = this.items[i];
      if (!match(message)) kept.push(message);
    }
    this.items = kept;
    this.head = 0;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/** Offers a message to a pending receive: it takes it, declines it, or fails (its matcher threw). */
function offer(waiter: Waiter, message: unknown): 'taken' | 'declined' | 'rejected' {
  let matches: boolean;
  try {
    matches = waiter.match === undefined || waiter.match(message);
  } catch (error) {
    waiter.reject(error);
    return 'rejected';
  }
  if (!matches) return 'declined';
  waiter.resolve(message);
  return 'taken';
}

export const NOT_FOUND: unique symbol = Symbol('beamline.mailbox.notFound');
