/** Decides whether `receive` takes a message. A type guard narrows what `receive` returns. */
export type Matcher<T = unknown> = ((message: unknown) => message is T) | ((message: unknown) => boolean);

interface Waiter {
  readonly match: Matcher | undefined;
  readonly resolve: (message: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const COMPACT_AT = 1024;

/**
 * A process's message queue with Erlang's selective receive: `take` returns the first message
 * that matches and leaves the others in arrival order; a message that arrives while its owner
 * waits is handed over directly when it matches.
 */
export class Mailbox {
  private items: unknown[] = [];
  private head = 0;
  private waiter: Waiter | undefined;

  get length(): number {
    return this.items.length - this.head;
  }

  get isWaiting(): boolean {
    return this.waiter !== undefined;
  }

  /** Delivers a message. Returns true when it woke the waiting receiver. */
  push(message: unknown): boolean {
    const waiter = this.waiter;
    if (waiter) {
      let matches: boolean;
      try {
        matches = waiter.match === undefined || waiter.match(message);
      } catch (error) {
        this.items.push(message);
        this.waiter = undefined;
        waiter.reject(error);
        return true;
      }
      if (matches) {
        this.waiter = undefined;
        waiter.resolve(message);
        return true;
      }
    }
    this.items.push(message);
    return false;
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

  /** Registers the receiver that the next matching message wakes. At most one at a time. */
  wait(match: Matcher | undefined, resolve: (message: unknown) => void, reject: (error: unknown) => void): void {
    this.waiter = { match, resolve, reject };
  }

  /** Drops the waiter (its receive timed out). */
  stopWaiting(): void {
    this.waiter = undefined;
  }

  /** Fails the waiting receive, if any, with `error`. */
  abort(error: unknown): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
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

  /** A copy of the queued messages, oldest first. */
  snapshot(): unknown[] {
    return this.items.slice(this.head);
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

export const NOT_FOUND: unique symbol = Symbol('beamline.mailbox.notFound');
