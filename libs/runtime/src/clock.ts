import { setImmediate } from 'node:timers';

/** A source of time and timers. The runtime reads time only through a Clock, so tests can drive it. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The longest delay `setTimeout` honours (about 24.8 days); it fires a longer one at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** A timer longer than `setTimeout` allows, re-armed in steps. */
interface LongTimer {
  current: ReturnType<typeof setTimeout>;
}

function setLongTimer(delayMs: number, callback: () => void): LongTimer {
  const timer = {} as LongTimer;
  const arm = (remaining: number) => {
    timer.current = setTimeout(
      () => (remaining > MAX_TIMER_MS ? arm(remaining - MAX_TIMER_MS) : callback()),
      Math.min(remaining, MAX_TIMER_MS),
    );
  };
  arm(delayMs);
  return timer;
}

/** Real time: `performance.now()` and the global timers (looked up at call time, so fake timers apply). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (delayMs, callback) =>
    delayMs > MAX_TIMER_MS ? setLongTimer(delayMs, callback) : setTimeout(callback, delayMs),
  clearTimer: (handle) =>
    clearTimeout(
      'current' in (handle as object) ? (handle as LongTimer).current : (handle as ReturnType<typeof setTimeout>),
    ),
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Lets every pending microtask run, and the promise chains they start. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Time that moves only when told. Timers fire in due order; after each one the microtasks it
 * caused are allowed to run, so processes woken by a timer act before the next timer fires.
 */
export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private timers: ManualTimer[] = [];

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: ManualTimer = {
      due: this.time + Math.max(0, delayMs),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true;
  }

  /** Number of timers that have not fired or been cleared. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = this.nextTimer(target);
      if (!next) break;
      this.time = next.due;
      next.cancelled = true;
      next.callback();
      await settle();
    }
    this.time = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
    await settle();
  }

  private nextTimer(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.due > limit) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
