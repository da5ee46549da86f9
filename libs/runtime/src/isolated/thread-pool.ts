import { Sandbox, type SandboxEvents } from './sandbox.js';
import type { SandboxHost } from './sandbox-command.js';

export interface ThreadPoolOptions {
  readonly entry: URL;
  readonly host: SandboxHost;
  readonly maxMessageBytes: number;
  /** Threads kept started with no function loaded, to hide the cold start. */
  readonly prestart: number;
  /** An idle thread with a function loaded is terminated after this long unused. */
  readonly idleTimeoutMs: number;
  /** At most this many warm idle threads are kept (pre-started ones aside); beyond it, a released thread is terminated. */
  readonly maxIdle: number;
  readonly defaultMemoryMb: number | undefined;
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
  private readonly fresh: Sandbox[] = [];
  private readonly warm = new Map<string, Sandbox[]>();
  private readonly idleTimers = new Map<Sandbox, ReturnType<typeof setTimeout>>();
  private readonly busy = new Set<Sandbox>();
  private readonly discarding = new Set<Promise<void>>();
  private started = 0;
  private reaped = 0;
  private failedStarts = 0;
  private failedStartsInARow = 0;
  private refillScheduled = false;
  private closed = false;

  constructor(
    private readonly options: ThreadPoolOptions,
    private readonly events: SandboxEvents,
  ) {
    this.refill();
  }

  /**
   * A sandbox for `moduleId` of `tenant` with heap limit `memoryMb`: a warm one that ran the same
   * function for the same tenant and `accept`s (the nice value it needs could be applied), else a
   * pre-started one that never ran anything, else a new one. Warm sandboxes are never shared
   * between tenants.
   */
  acquire(
    moduleId: string,
    memoryMb: number | undefined,
    tenant: string | undefined,
    accept: (thread: Sandbox) => boolean,
  ): Sandbox {
    const thread =
      this.takeWarm(moduleId, memoryMb, tenant, accept) ?? this.takeFresh(memoryMb) ?? this.create(memoryMb);
    thread.tenant = tenant;
    this.busy.add(thread);
    thread.hold(true);
    this.scheduleRefill();
    return thread;
  }

  /** Takes back a thread whose process ended normally, to be reused for the same function version. */
  release(thread: Sandbox): void {
    this.busy.delete(thread);
    if (this.closed || thread.dead || thread.moduleId === undefined || this.idleTimers.size >= this.options.maxIdle) {
      void this.discard(thread);
      return;
    }
    thread.hold(false);
    const key = warmKey(thread.moduleId, thread.memoryMb, thread.tenant);
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
  discard(thread: Sandbox): Promise<void> {
    this.forget(thread);
    const gone = thread.terminate();
    this.discarding.add(gone);
    void gone.finally(() => this.discarding.delete(gone));
    return gone;
  }

  /** A thread reported it is ready: pre-starting may go on. */
  threadReady(thread: Sandbox): void {
    if (thread.ready) this.failedStartsInARow = 0;
  }

  /** Removes a thread that died on its own from wherever the pool keeps it. */
  forget(thread: Sandbox): void {
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
      const key = warmKey(thread.moduleId, thread.memoryMb, thread.tenant);
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
    tenant: string | undefined,
    accept: (thread: Sandbox) => boolean,
  ): Sandbox | undefined {
    const list = this.warm.get(warmKey(moduleId, memoryMb, tenant));
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const thread = list[i] as Sandbox;
      if (!accept(thread)) continue;
      this.forget(thread);
      return thread;
    }
    return undefined;
  }

  private takeFresh(memoryMb: number | undefined): Sandbox | undefined {
    if (memoryMb !== this.options.defaultMemoryMb) return undefined;
    const thread = this.fresh.pop();
    if (thread) this.forget(thread);
    return thread;
  }

  private create(memoryMb: number | undefined): Sandbox {
    this.started++;
    const { entry, host, maxMessageBytes } = this.options;
    return new Sandbox({ entry, host, memoryMb, maxMessageBytes }, this.events);
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

function warmKey(moduleId: string, memoryMb: number | undefined, tenant: string | undefined): string {
  return JSON.stringify([tenant ?? null, memoryMb ?? null, moduleId]);
}
