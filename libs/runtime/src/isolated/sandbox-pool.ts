import { Sandbox, type SandboxEvents } from './sandbox.js';
import type { SandboxHost } from './sandbox-command.js';

export interface SandboxPoolOptions {
  readonly entry: URL;
  readonly host: SandboxHost;
  readonly maxMessageBytes: number;
  /** A sandbox not ready by then is killed (Node can hang at start under a too-small data limit). */
  readonly startTimeoutMs: number;
  /** Threads kept started with no function loaded, to hide the cold start. */
  readonly prestart: number;
  /** An idle sandbox with a function loaded is terminated after this long unused. */
  readonly idleTimeoutMs: number;
  /** At most this many warm idle sandboxes are kept (pre-started ones aside); beyond it, one of the tenant holding the most is terminated. */
  readonly maxIdle: number;
  readonly defaultMemoryMb: number | undefined;
}

export interface PoolStats {
  /** Threads with a function loaded, waiting to be reused for the same function version. */
  readonly warm: number;
  /** Pre-started sandboxes with no function loaded. */
  readonly prestarted: number;
  /** Threads running a process. */
  readonly busy: number;
  /** Threads started since the pool was created. */
  readonly started: number;
  /** Idle sandboxes terminated because nobody used them within the idle timeout. */
  readonly reaped: number;
  /** Warm sandboxes discarded because they used CPU or memory while idle (work a job left behind). */
  readonly busyWhileIdle: number;
  /** Threads that died before they were ready (a broken sandbox script, no memory). */
  readonly failedStarts: number;
}

/** CPU an idle sandbox may use (the kernel counts in 10 ms ticks; a late GC may run). */
const IDLE_CPU_NS = 50_000_000;
/** Resident memory an idle sandbox may gain. */
const IDLE_GROWTH_BYTES = 16 * 1024 * 1024;

/** After this many sandboxes in a row die before they are ready, pre-starting stops until one succeeds. */
const MAX_FAILED_STARTS = 3;

/**
 * Isolate sandboxes that are not running a process: warm ones (a function version loaded, reused
 * only for that version and heap limit, as an AWS Lambda execution environment is) and fresh
 * pre-started ones. A sandbox is checked out for one process at a time, and goes back only when
 * that process ended normally.
 */
export class SandboxPool {
  private readonly fresh: Sandbox[] = [];
  private readonly warm = new Map<string, Sandbox[]>();
  private readonly idleTimers = new Map<Sandbox, ReturnType<typeof setTimeout>>();
  private readonly busy = new Set<Sandbox>();
  private readonly discarding = new Set<Promise<void>>();
  private started = 0;
  private reaped = 0;
  private busyWhileIdle = 0;
  /** CPU and resident memory of each warm sandbox when it was released. */
  private readonly idleSince = new Map<Sandbox, { readonly cpuNs: number; readonly residentBytes: number }>();
  private failedStarts = 0;
  private failedStartsInARow = 0;
  private refillScheduled = false;
  private closed = false;

  constructor(
    private readonly options: SandboxPoolOptions,
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
    accept: (sandbox: Sandbox) => boolean,
  ): Sandbox {
    const sandbox =
      this.takeWarm(moduleId, memoryMb, tenant, accept) ?? this.takeFresh(memoryMb) ?? this.create(memoryMb);
    sandbox.tenant = tenant;
    this.busy.add(sandbox);
    sandbox.hold(true);
    this.scheduleRefill();
    return sandbox;
  }

  /**
   * Takes back a sandbox whose process ended normally, to be reused for the same function
   * version. `readings`: its CPU time and resident bytes as the caller read them just now (it
   * measured the invocation that ended), so /proc is not read again for the idle baseline.
   */
  release(sandbox: Sandbox, readings: { cpuNs?: number | undefined; residentBytes?: number | undefined } = {}): void {
    this.busy.delete(sandbox);
    if (this.closed || sandbox.dead || sandbox.moduleId === undefined || this.options.maxIdle === 0) {
      void this.discard(sandbox);
      return;
    }
    if (this.idleTimers.size >= this.options.maxIdle) this.evictFor(sandbox.tenant);
    sandbox.hold(false);
    this.idleSince.set(sandbox, {
      cpuNs: readings.cpuNs ?? sandbox.cpuNs() ?? 0,
      residentBytes: readings.residentBytes ?? sandbox.residentBytes() ?? 0,
    });
    const key = warmKey(sandbox.moduleId, sandbox.memoryMb, sandbox.tenant);
    const list = this.warm.get(key);
    if (list) list.push(sandbox);
    else this.warm.set(key, [sandbox]);
    const timer = setTimeout(() => {
      this.reaped++;
      void this.discard(sandbox);
    }, this.options.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(sandbox, timer);
  }

  /**
   * Discards warm sandboxes that used CPU or grew while idle: a job that ended can leave work
   * running (or lie that it left none), and idle sandboxes are outside every job's limits.
   */
  checkIdle(): void {
    for (const [sandbox, since] of this.idleSince) {
      const cpu = (sandbox.cpuNs() ?? since.cpuNs) - since.cpuNs;
      const grown = (sandbox.residentBytes() ?? since.residentBytes) - since.residentBytes;
      if (cpu > IDLE_CPU_NS || grown > IDLE_GROWTH_BYTES) {
        this.busyWhileIdle++;
        void this.discard(sandbox);
      }
    }
  }

  /**
   * Makes room among the warm sandboxes for one of `tenant`'s: the least recently used of the
   * tenant that holds the most (the releasing tenant when it holds as many as any), so that every
   * tenant keeps a fair share of the pool. Without it, one tenant cycling through many functions
   * kept the pool full and every other tenant's sandboxes were discarded as they were released.
   */
  private evictFor(tenant: string | undefined): void {
    const held = new Map<string | undefined, number>();
    for (const idle of this.idleTimers.keys()) held.set(idle.tenant, (held.get(idle.tenant) ?? 0) + 1);
    let heaviest = tenant;
    let most = held.get(tenant) ?? 0;
    for (const [other, count] of held) {
      if (count > most) {
        heaviest = other;
        most = count;
      }
    }
    for (const idle of this.idleTimers.keys()) {
      if (idle.tenant === heaviest) {
        void this.discard(idle);
        return;
      }
    }
  }

  /** Terminates a sandbox (after a crash, a kill or a limit, it is never reused). */
  discard(sandbox: Sandbox): Promise<void> {
    this.forget(sandbox);
    const gone = sandbox.terminate();
    this.discarding.add(gone);
    void gone.finally(() => this.discarding.delete(gone));
    return gone;
  }

  /** A sandbox reported it is ready: pre-starting may go on. */
  sandboxReady(sandbox: Sandbox): void {
    if (sandbox.ready) this.failedStartsInARow = 0;
  }

  /** Removes a sandbox that died on its own from wherever the pool keeps it. */
  forget(sandbox: Sandbox): void {
    if (sandbox.dead && !sandbox.ready && !sandbox.terminated) {
      this.failedStarts++;
      this.failedStartsInARow++;
    }
    this.busy.delete(sandbox);
    this.idleSince.delete(sandbox);
    const timer = this.idleTimers.get(sandbox);
    if (timer) {
      clearTimeout(timer);
      this.idleTimers.delete(sandbox);
    }
    const freshIndex = this.fresh.indexOf(sandbox);
    if (freshIndex >= 0) this.fresh.splice(freshIndex, 1);
    if (sandbox.moduleId !== undefined) {
      const key = warmKey(sandbox.moduleId, sandbox.memoryMb, sandbox.tenant);
      const list = this.warm.get(key);
      const index = list?.indexOf(sandbox) ?? -1;
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
      busyWhileIdle: this.busyWhileIdle,
      failedStarts: this.failedStarts,
    };
  }

  /** Terminates every idle sandbox; sandboxes still busy are the scheduler's to end. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = [...this.fresh, ...this.idleTimers.keys()];
    await Promise.all([...idle.map((sandbox) => this.discard(sandbox)), ...this.discarding]);
  }

  private takeWarm(
    moduleId: string,
    memoryMb: number | undefined,
    tenant: string | undefined,
    accept: (sandbox: Sandbox) => boolean,
  ): Sandbox | undefined {
    const list = this.warm.get(warmKey(moduleId, memoryMb, tenant));
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const sandbox = list[i] as Sandbox;
      if (!accept(sandbox)) continue;
      this.forget(sandbox);
      return sandbox;
    }
    return undefined;
  }

  private takeFresh(memoryMb: number | undefined): Sandbox | undefined {
    if (memoryMb !== this.options.defaultMemoryMb) return undefined;
    const sandbox = this.fresh.pop();
    if (sandbox) this.forget(sandbox);
    return sandbox;
  }

  private create(memoryMb: number | undefined): Sandbox {
    this.started++;
    const { entry, host, maxMessageBytes, startTimeoutMs } = this.options;
    return new Sandbox({ entry, host, memoryMb, maxMessageBytes, startTimeoutMs }, this.events);
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
      const sandbox = this.create(this.options.defaultMemoryMb);
      sandbox.hold(false);
      this.fresh.push(sandbox);
    }
  }
}

function warmKey(moduleId: string, memoryMb: number | undefined, tenant: string | undefined): string {
  return JSON.stringify([tenant ?? null, memoryMb ?? null, moduleId]);
}
