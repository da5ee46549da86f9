import { IsolateThread, type ThreadEvents } from './isolate-thread.js';

export interface ThreadPoolOptions {
  readonly script: URL;
  /** Threads kept started with no function loaded, to hide the cold start. */
  readonly prestart: number;
  /** An idle thread with a function loaded is terminated after this long unused. */
  readonly idleTimeoutMs: number;
  /** At most this many warm idle threads are kept (pre-started ones aside); beyond it, a released thread is terminated. */
  readonly maxIdle: number;
  readonly defaultMemoryMb: number | undefined;
  readonly heapSampleMs: number;
}

export interface PoolStats {
  /** Threads with a function loaded, waiting to be reused for the same function version. */
  readonly warm: number;
  /** Pre-started threads with no function loaded. */
  readonly prestarted: number;
  /** Threads running a process. */
  readonly busy: number;
  /** Threads started since the pool was created. */
  readonly started: number;
  /** Idle threads terminated because nobody used them within the idle timeout. */
  readonly reaped: number;
  /** Threads that died before they were ready (a broken thread script, no memory). */
  readonly failedStarts: number;
}

/** After this many threads in a row die before they are ready, pre-starting stops until one succeeds. */
const MAX_FAILED_STARTS = 3;

/**
 * Isolate threads that are not running a process: warm ones (a function version loaded, reused
 * only for that version and heap limit, as an AWS Lambda execution environment is) and fresh
 * pre-started ones. A thread is checked out for one process at a time, and goes back only when
 * that process ended normally.
 */
export class ThreadPool {
  private readonly fresh: IsolateThread[] = [];
  private readonly warm = new Map<string, IsolateThread[]>();
  private readonly idleTimers = new Map<IsolateThread, ReturnType<typeof setTimeout>>();
  private readonly busy = new Set<IsolateThread>();
  private readonly discarding = new Set<Promise<void>>();
  private started = 0;
  private reaped = 0;
  private failedStarts = 0;
  private failedStartsInARow = 0;
  private refillScheduled = false;
  private closed = false;

  constructor(
    private readonly options: ThreadPoolOptions,
    private readonly events: ThreadEvents,
  ) {
    this.refill();
  }

  /**
   * A thread for `moduleId` with heap limit `memoryMb`: a warm one that `accept`s (the nice value
   * it needs could be applied), else a pre-started one, else a new one.
   */
  acquire(moduleId: string, memoryMb: number | undefined, accept: (thread: IsolateThread) => boolean): IsolateThread {
    const thread = this.takeWarm(moduleId, memoryMb, accept) ?? this.takeFresh(memoryMb) ?? this.create(memoryMb);
    this.busy.add(thread);
    thread.hold(true);
    this.scheduleRefill();
    return thread;
  }

  /** Takes back a thread whose process ended normally, to be reused for the same function version. */
  release(thread: IsolateThread): void {
    this.busy.delete(thread);
    if (this.closed || thread.dead || thread.moduleId === undefined || this.idleTimers.size >= this.options.maxIdle) {
      void this.discard(thread);
      return;
    }
    thread.hold(false);
    const key = warmKey(thread.moduleId, thread.memoryMb);
    const list = this.warm.get(key);
    if (list) list.push(thread);
    else this.warm.set(key, [thread]);
    const timer = setTimeout(() => {
      this.reaped++;
      void this.discard(thread);
    }, this.options.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(thread, timer);
  }

  /** Terminates a thread (after a crash, a kill or a limit, it is never reused). */
  discard(thread: IsolateThread): Promise<void> {
    this.forget(thread);
    const gone = thread.terminate();
    this.discarding.add(gone);
    void gone.finally(() => this.discarding.delete(gone));
    return gone;
  }

  /** A thread reported it is ready: pre-starting may go on. */
  threadReady(thread: IsolateThread): void {
    if (thread.ready) this.failedStartsInARow = 0;
  }

  /** Removes a thread that died on its own from wherever the pool keeps it. */
  forget(thread: IsolateThread): void {
    if (thread.dead && !thread.ready && !thread.terminated) {
      this.failedStarts++;
      this.failedStartsInARow++;
    }
    this.busy.delete(thread);
    const timer = this.idleTimers.get(thread);
    if (timer) {
      clearTimeout(timer);
      this.idleTimers.delete(thread);
    }
    const freshIndex = this.fresh.indexOf(thread);
    if (freshIndex >= 0) this.fresh.splice(freshIndex, 1);
    if (thread.moduleId !== undefined) {
      const key = warmKey(thread.moduleId, thread.memoryMb);
      const list = this.warm.get(key);
      const index = list?.indexOf(thread) ?? -1;
      if (list && index >= 0) {
        list.splice(index, 1);
        if (list.length === 0) this.warm.delete(key);
      }
    }
    this.scheduleRefill();
  }

  stats(): PoolStats {
    return {
      warm: this.idleTimers.size,
      prestarted: this.fresh.length,
      busy: this.busy.size,
      started: this.started,
      reaped: this.reaped,
      failedStarts: this.failedStarts,
    };
  }

  /** Terminates every idle thread; threads still busy are the scheduler's to end. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = [...this.fresh, ...this.idleTimers.keys()];
    await Promise.all([...idle.map((thread) => this.discard(thread)), ...this.discarding]);
  }

  private takeWarm(
    moduleId: string,
    memoryMb: number | undefined,
    accept: (thread: IsolateThread) => boolean,
  ): IsolateThread | undefined {
    const list = this.warm.get(warmKey(moduleId, memoryMb));
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const thread = list[i] as IsolateThread;
      if (!accept(thread)) continue;
      this.forget(thread);
      return thread;
    }
    return undefined;
  }

  private takeFresh(memoryMb: number | undefined): IsolateThread | undefined {
    if (memoryMb !== this.options.defaultMemoryMb) return undefined;
    const thread = this.fresh.pop();
    if (thread) this.forget(thread);
    return thread;
  }

  private create(memoryMb: number | undefined): IsolateThread {
    this.started++;
    return new IsolateThread(
      { script: this.options.script, memoryMb, heapSampleMs: this.options.heapSampleMs },
      this.events,
    );
  }

  private scheduleRefill(): void {
    if (this.refillScheduled || this.closed) return;
    this.refillScheduled = true;
    setImmediate(() => {
      this.refillScheduled = false;
      this.refill();
    }).unref();
  }

  private refill(): void {
    if (this.failedStartsInARow >= MAX_FAILED_STARTS) return;
    while (!this.closed && this.fresh.length < this.options.prestart) {
      const thread = this.create(this.options.defaultMemoryMb);
      thread.hold(false);
      this.fresh.push(thread);
    }
  }
}

function warmKey(moduleId: string, memoryMb: number | undefined): string {
  return `${memoryMb ?? 'default'}\u0000${moduleId}`;
}
