import { existsSync } from 'node:fs';
import os from 'node:os';
import type { ProcessContext } from '../context.js';
import { BadArgError } from '../errors.js';
import { kernelOf } from '../internal.js';
import type { Kernel } from '../kernel.js';
import { assertValidName } from '../names.js';
import type { Node, NodeStats } from '../node.js';
import type { Pid, Ref } from '../pid.js';
import { assertPriority, type Priority } from '../priority.js';
import type { Process } from '../process.js';
import { type ExitReason, isOrderlyExit, ProcessExit, type ReasonLabel, reasonLabel } from '../reason.js';
import { Accounting, type MainThreadStats } from './accounting.js';
import { CpuGroups } from './cpu-groups.js';
import { assertFunctionModule, type FunctionModule } from './function-module.js';
import { IsolatedProcess, type IsolatedSpawnOptions, type LogEntry } from './isolated-process.js';
import type { JobTreeHost, StartJobOptions } from './job-tree.js';
import { assertLimits, MAX_LIMIT_MS, type ProcessLimits } from './limits.js';
import { NicePolicy, type PriorityEnforcement } from './nice.js';
import {
  DEFAULT_OUTPUT_RATES,
  type OutputKind,
  OutputLimiter,
  type OutputRate,
  type SandboxOutputRates,
} from './output-limits.js';
import {
  type FetchRequest,
  type FetchResponse,
  type FromThread,
  MAX_JOB_REQUESTS_IN_FLIGHT,
  type Outcome,
  type ThreadSpawnOptions,
} from './protocol.js';
import { RunQueue } from './run-queue.js';
import { HANDLING_COST_REPORT_MS, type Sandbox, type SandboxDeath } from './sandbox.js';
import { type SandboxHost, sandboxHost } from './sandbox-command.js';
import { type PoolStats, SandboxPool } from './sandbox-pool.js';
import { threadCpuMs } from './thread-cpu.js';
import { fromTransferred, toTransferred } from './transfer.js';

export type FunctionResolver = (id: string) => FunctionModule | undefined | Promise<FunctionModule | undefined>;

export interface SchedulerOptions {
  /** Usable CPUs. Default `os.availableParallelism()`, which follows the cgroup's CPU limit. */
  readonly cores?: number;
  /** Live isolated processes (each holds a sandbox process) at most; more wait in the run queue. Default cores × 16. */
  readonly maxProcesses?: number;
  /** Sandboxes kept started with no function loaded. Default 2. */
  readonly prestart?: number;
  /** An idle warm sandbox is terminated after this long. Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** Idle sandboxes kept at most. Default `maxProcesses`. */
  readonly maxIdleThreads?: number;
  /** Limits for processes that give none. */
  readonly defaultLimits?: ProcessLimits;
  /** How often CPU time is read from the kernel. Default 100 ms. */
  readonly sampleIntervalMs?: number;
  /** The sliding window of utilization and main-thread figures. Default 5 s. */
  readonly windowMs?: number;
  /** How often the memory of each sandbox with a memory limit is read. Default 20 ms. */
  readonly memorySampleMs?: number;
  /** The largest message a sandbox may send (a result, a message, a log line). Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** A sandbox that has not started (reported ready) within this is killed. Default 20 s. */
  readonly startTimeoutMs?: number;
  /**
   * Messages a process has not read wait in the node's memory: beyond this many bytes of them (or
   * beyond its memoryMb, with its sandbox's memory) it is killed with `memory_limit`, as the BEAM's
   * max_heap_size counts a process's message queue. Default maxMessageBytes.
   */
  readonly maxUnreadBytes?: number;
  /** Rates of output (logs, progress, messages, fetches) a process may send; beyond them it is dropped and counted. */
  readonly outputRates?: Partial<Record<OutputKind, OutputRate>>;
  /** Refuse to start unless sandboxes get their own kernel namespaces (Linux user namespaces). Default false. */
  readonly requireNamespaces?: boolean;
  /**
   * Performs a job's outbound `fetch` (the sandbox has no network). Without it, fetch fails.
   * The worker node passes one that applies its egress policy for the process's tenant.
   */
  readonly fetch?: (from: Pid, request: FetchRequest, signal: AbortSignal) => Promise<FetchResponse>;
  /** Finds the function an isolated body names in `ctx.spawn`, beyond those given to `define`. */
  readonly resolveFunction?: FunctionResolver;
  /**
   * Decides whether an isolated process may send to, link to or signal a target: returns why
   * not, or undefined to allow. A refused process ends with a BadArgError giving that reason
   * (a worker node keeps job code away from its supervisors and from other tenants' jobs).
   */
  readonly signalGuard?: (from: Pid, to: Pid | string, operation: GuardedOperation) => string | undefined;
  /**
   * Starts and awaits child jobs for job code (ctx.startJob, ctx.awaitJob). Without it, both are
   * refused. Each startJob counts as a `send` against the process's output rate.
   */
  readonly jobs?: JobTreeHost;
  /** Receives `ctx.log` lines of processes spawned without their own `onLog`. */
  readonly onLog?: (entry: LogEntry) => void;
}

export type GuardedOperation = 'send' | 'exit' | 'link' | 'monitor';

export interface SchedulerStats {
  readonly nodeId: string;
  readonly cores: number;
  readonly maxProcesses: number;
  /** Isolated processes holding a sandbox. */
  readonly live: number;
  /** Processes waiting for a slot, by priority. */
  readonly runQueue: Record<Priority, number>;
  /** CPU time of sandboxes, by the priority of the process that used it. */
  readonly cpuSecondsByPriority: Record<Priority, number>;
  /** CPU time of sandboxes / (cores × wall time) over the window, 0–1. */
  readonly utilization: number;
  readonly windowMs: number;
  readonly mainThread: MainThreadStats;
  readonly pool: PoolStats;
  readonly priorities: PriorityEnforcement;
  /** Where CPU time comes from: the kernel's per-process accounting (/proc/<pid>/stat), or nowhere (not Linux). */
  readonly cpuAccounting: 'procstat' | 'unavailable';
  /** How sandboxes are confined on this host. */
  readonly sandbox: Omit<SandboxHost, 'baselineDataBytes' | 'commands'>;
  /** Output dropped because a process sent it faster than its rate (by its sandbox, or by the node), by kind. */
  readonly dropped: Record<OutputKind, number>;
  /** Messages the node's main thread has read from sandboxes. */
  readonly messagesIn: number;
  /**
   * Reading what sandboxes sent in chunks that took the main thread 1 ms or more (a large or
   * intricate value): the time it took, and the pauses it earned its tenant's sandboxes (see
   * MESSAGE_SHARE).
   */
  readonly costlyMessages: { readonly handlingMs: number; readonly pauses: number; readonly pausedMs: number };
  /** Isolated processes spawned, and their exits by reason. */
  readonly spawns: number;
  readonly exits: Partial<Record<ReasonLabel, number>>;
  /** Every process of the node (green and isolated), by kind and status. */
  readonly processes: NodeStats['processes'];
}

export interface RunOutcome {
  readonly pid: Pid;
  readonly reason: ExitReason;
  /** The return value, when the function ended normally. */
  readonly result: unknown;
}

type Relation = 'none' | 'link' | 'monitor';

const schedulers = new WeakSet<Kernel>();

/** Where the sandbox entry script is: beside this module once built; under dist when run from source. */
function sandboxEntry(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/isolated/sandbox-entry.js', here)
    : new URL('./sandbox-entry.js', here);
}

const MiB = 1024 * 1024;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * MiB;
/**
 * The share of the node's main thread that reading one tenant's messages may take: after a chunk
 * that took it `ms`, that tenant's sandboxes are not read for `ms * (1 / share - 1)`. Values from
 * job code can cost the node seconds to read (deserializing and checking millions of small
 * parts); without this, one tenant's stream of them stalled every tenant's jobs on the node.
 */
const MESSAGE_SHARE = 0.1;
/** Requests one process may have in flight through the node's `fetch`. */
const MAX_FETCHES_IN_FLIGHT = 16;

/**
 * Runs isolated processes for a node: each one a function module in its own sandbox OS process
 * (ADR 0009), with a nice value from its priority, limits that kill it, and CPU time read from
 * the kernel. Processes beyond `maxProcesses` wait in a run queue by priority.
 */
export class Scheduler {
  readonly cores: number;
  readonly maxProcesses: number;
  private readonly kernel: Kernel;
  private readonly pool: SandboxPool;
  private readonly runQueue = new RunQueue<IsolatedProcess>();
  private readonly owners = new Map<Sandbox, IsolatedProcess>();
  private readonly accounting: Accounting;
  private readonly nice = new NicePolicy(new CpuGroups());
  private readonly functions = new Map<string, FunctionModule>();
  private readonly sampler: ReturnType<typeof setInterval>;
  private readonly defaultLimits: ProcessLimits;
  private readonly cpuAccounting = existsSync('/proc/self/stat');
  private readonly host: SandboxHost;
  private readonly memorySampler: ReturnType<typeof setInterval>;
  private readonly outputRates: Readonly<Record<OutputKind, OutputRate>>;
  private readonly sandboxOutputRates: SandboxOutputRates;
  private readonly dropped: Record<OutputKind, number> = { log: 0, progress: 0, send: 0, fetch: 0 };
  private messagesIn = 0;
  private readonly costly = { handlingMs: 0, pauses: 0, pausedMs: 0 };
  /** Until when (performance.now()) each tenant's sandboxes are not read. */
  private readonly tenantPauses = new Map<string | undefined, number>();
  private readonly windowMs: number;
  private readonly maxUnreadBytes: number;
  private live = 0;
  private spawns = 0;
  private readonly exits = new Map<ReasonLabel, number>();
  private closed = false;

  constructor(
    private readonly node: Node,
    private readonly options: SchedulerOptions = {},
  ) {
    this.kernel = node.kernel;
    if (schedulers.has(this.kernel)) throw new BadArgError(`Node ${node.id} already has a scheduler.`);
    this.cores = wholeAtLeast(options.cores ?? os.availableParallelism(), 1, 'cores');
    this.maxProcesses = wholeAtLeast(options.maxProcesses ?? this.cores * 16, 1, 'maxProcesses');
    this.defaultLimits = options.defaultLimits ?? {};
    assertLimits(this.defaultLimits, 'defaultLimits');
    this.windowMs = positiveMs(options.windowMs ?? 5000, 'windowMs');
    this.host = sandboxHost();
    if (options.requireNamespaces && this.host.isolation !== 'namespaces') {
      throw new BadArgError(`Sandboxes need kernel namespaces on this node and cannot have them: ${this.host.reason}.`);
    }
    this.outputRates = { ...DEFAULT_OUTPUT_RATES, ...options.outputRates };
    this.sandboxOutputRates = { log: this.outputRates.log, progress: this.outputRates.progress };
    const maxMessageBytes = wholeAtLeast(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 1024, 'maxMessageBytes');
    this.maxUnreadBytes = wholeAtLeast(options.maxUnreadBytes ?? maxMessageBytes, 1024, 'maxUnreadBytes');
    const poolOptions = {
      entry: sandboxEntry(),
      host: this.host,
      maxMessageBytes,
      startTimeoutMs: positiveMs(options.startTimeoutMs ?? 20_000, 'startTimeoutMs'),
      prestart: wholeAtLeast(options.prestart ?? 2, 0, 'prestart'),
      idleTimeoutMs: positiveMs(options.idleTimeoutMs ?? 30_000, 'idleTimeoutMs'),
      maxIdle: wholeAtLeast(options.maxIdleThreads ?? this.maxProcesses, 0, 'maxIdleThreads'),
      defaultMemoryMb: this.defaultLimits.memoryMb,
    };
    const sampleIntervalMs = positiveMs(options.sampleIntervalMs ?? 100, 'sampleIntervalMs');
    this.accounting = new Accounting(this.cores, this.windowMs, sampleIntervalMs);
    this.pool = new SandboxPool(poolOptions, {
      onReady: (thread) => this.threadReady(thread),
      onMessage: (thread, message) => this.threadMessage(thread, message),
      onDeath: (thread, death) => this.threadDied(thread, death),
      onHandlingCost: (thread, ms) => this.handlingCost(thread, ms),
    });
    this.sampler = setInterval(() => this.sample(), sampleIntervalMs);
    this.sampler.unref();
    this.memorySampler = setInterval(
      () => this.watchMemory(),
      positiveMs(options.memorySampleMs ?? 20, 'memorySampleMs'),
    );
    this.memorySampler.unref();
    schedulers.add(this.kernel);
  }

  /** Makes a function known by its id, for isolated bodies that spawn it with `ctx.spawn(id)`. */
  define(module: FunctionModule): void {
    assertFunctionModule(module, 'define(module)');
    this.functions.set(module.id, module);
  }

  spawn(module: FunctionModule, input?: unknown, options: IsolatedSpawnOptions = {}): Pid {
    return this.spawnIsolated(module, input, options, undefined, 'none', undefined).pid;
  }

  /** Spawns an isolated process linked to the green process that owns `ctx` (e.g. a supervisor). */
  spawnLink(ctx: ProcessContext, module: FunctionModule, input?: unknown, options: IsolatedSpawnOptions = {}): Pid {
    return this.spawnIsolated(module, input, options, this.caller(ctx), 'link', undefined).pid;
  }

  spawnMonitor(
    ctx: ProcessContext,
    module: FunctionModule,
    input?: unknown,
    options: IsolatedSpawnOptions = {},
  ): { pid: Pid; ref: Ref } {
    const parent = this.caller(ctx);
    const ref = this.kernel.makeRef();
    return { pid: this.spawnIsolated(module, input, options, parent, 'monitor', ref).pid, ref };
  }

  /** Runs a function to its end: its pid, exit reason and (when normal) return value. */
  async run(module: FunctionModule, input?: unknown, options: IsolatedSpawnOptions = {}): Promise<RunOutcome> {
    let result: unknown;
    const pid = this.spawn(module, input, {
      ...options,
      onResult: (value) => {
        result = value;
        options.onResult?.(value);
      },
    });
    const reason = await this.node.waitExit(pid);
    return { pid, reason, result };
  }

  stats(): SchedulerStats {
    const cpuSecondsByPriority = { max: 0, high: 0, normal: 0, low: 0 };
    for (const priority of Object.keys(cpuSecondsByPriority) as Priority[]) {
      cpuSecondsByPriority[priority] = this.accounting.cpuNsByPriority[priority] / 1e9;
    }
    return {
      nodeId: this.node.id,
      cores: this.cores,
      maxProcesses: this.maxProcesses,
      live: this.live,
      runQueue: this.runQueue.lengths(),
      cpuSecondsByPriority,
      utilization: this.accounting.utilization(),
      windowMs: this.windowMs,
      mainThread: this.accounting.mainThread(),
      pool: this.pool.stats(),
      priorities: this.nice.status(),
      cpuAccounting: this.cpuAccounting ? 'procstat' : 'unavailable',
      sandbox: {
        isolation: this.host.isolation,
        reason: this.host.reason,
        unprivileged: this.host.unprivileged,
        rlimits: this.host.rlimits,
      },
      dropped: { ...this.dropped },
      messagesIn: this.messagesIn,
      costlyMessages: { ...this.costly },
      spawns: this.spawns,
      exits: Object.fromEntries(this.exits),
      processes: this.node.stats().processes,
    };
  }

  /** Kills every isolated process, terminates every thread and stops sampling. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const isolated = [...this.kernel.processes()].filter((p) => p instanceof IsolatedProcess).map((p) => p.pid);
    const ended = isolated.map((pid) => this.node.waitExit(pid));
    for (const pid of isolated) this.node.exit(pid, 'kill');
    await Promise.all(ended);
    clearInterval(this.sampler);
    clearInterval(this.memorySampler);
    this.accounting.close();
    await this.pool.close();
    this.nice.close();
    schedulers.delete(this.kernel);
  }

  // ── spawning ───────────────────────────────────────────────────────────────────────────

  private caller(ctx: ProcessContext): Process {
    if (kernelOf(ctx) !== this.kernel) {
      throw new BadArgError(`This ctx belongs to a process of another node than ${this.node.id}.`);
    }
    const process = this.kernel.get(ctx.self);
    if (!process) throw new ProcessExit(ctx.self, 'noproc');
    return process;
  }

  private spawnIsolated(
    module: FunctionModule,
    input: unknown,
    options: IsolatedSpawnOptions,
    parent: Process | undefined,
    relation: Relation,
    ref: Ref | undefined,
  ): IsolatedProcess {
    if (this.closed) throw new BadArgError(`The scheduler of node ${this.node.id} is closed.`);
    assertFunctionModule(module, 'module');
    if (options.priority !== undefined) assertPriority(options.priority, 'options.priority');
    if (options.name !== undefined) assertValidName(options.name);
    assertLimits(options, 'options');
    if (options.cpuMs !== undefined && !this.cpuAccounting) {
      throw new BadArgError('options.cpuMs needs per-process CPU accounting (Linux /proc); this OS has none.');
    }
    if (options.name !== undefined) this.kernel.assertNameFree(options.name);
    const limits: IsolatedSpawnOptions = { ...this.defaultLimits, ...options };
    const process = new IsolatedProcess(
      {
        halt: (p, reason) => this.halt(p, reason),
        collectCpu: (p) => this.collectCpu(p),
        queuedMessage: (p) => this.checkUnread(p),
      },
      this.kernel.nextPid(),
      module,
      copyInput(input),
      limits,
    );
    this.kernel.admit(process);
    this.spawns++;
    if (options.name !== undefined) this.kernel.register(options.name, process.pid);
    if (parent && relation === 'link') this.kernel.link(parent, process.pid);
    if (parent && relation === 'monitor') this.kernel.monitor(parent, process.pid, ref);
    this.runQueue.push(process, process.priority);
    this.dispatch();
    return process;
  }

  /** Gives queued processes sandboxes while slots are free. */
  private dispatch(): void {
    while (this.live < this.maxProcesses) {
      const process = this.runQueue.pop();
      if (!process) return;
      this.start(process);
    }
  }

  private start(process: IsolatedProcess): void {
    const { module } = process;
    const thread = this.pool.acquire(module.id, process.options.memoryMb, process.options.tenant, (t) =>
      this.nice.apply(t, process.priority),
    );
    if (thread.ready) this.nice.apply(thread, process.priority);
    this.pauseIfThrottled(thread);
    this.live++;
    this.owners.set(thread, process);
    process.thread = thread;
    process.phase = 'running';
    process.status = 'running';
    thread.serial++;
    thread.resetCounters();
    const source = thread.moduleId === module.id ? undefined : module.source;
    thread.moduleId = module.id;
    process.lastCpuReading = thread.lastCpuNs ?? thread.cpuNs();
    try {
      thread.post({
        t: 'invoke',
        serial: thread.serial,
        pid: process.pid,
        nodeId: this.node.id,
        moduleId: module.id,
        source,
        input: process.input,
        trapExit: process.trapExit,
        output: this.sandboxOutputRates,
      });
    } catch (error) {
      this.fail(process, { error });
      return;
    }
    for (const message of process.takeBuffered()) process.deliver(message);
    if (thread.ready) this.armLimits(process);
  }

  /**
   * Starts the clocks of the process's limits: when its sandbox is ready, so that neither the wait
   * for a slot nor a cold start counts against the run (a sandbox that never gets ready is killed
   * by its own start timeout).
   */
  private armLimits(process: IsolatedProcess): void {
    if (process.limitsArmed) return;
    process.limitsArmed = true;
    const { timeoutMs, cpuMs } = process.options;
    if (timeoutMs !== undefined) {
      process.timers.push(setTimeout(() => this.limitReached(process, 'timeout'), timeoutMs));
    }
    if (cpuMs !== undefined) this.checkCpuAfter(process, cpuMs);
  }

  /**
   * A sandbox cannot use more CPU than wall time × cores, so the check comes when the rest of
   * the budget could be gone at that rate.
   */
  private checkCpuAfter(process: IsolatedProcess, cpuMs: number): void {
    const remainingMs = (cpuMs - process.cpuNs / 1e6) / this.cores;
    const timer = setTimeout(
      () => {
        process.timers = process.timers.filter((t) => t !== timer);
        if (process.phase !== 'running') return;
        this.collectCpu(process);
        if (process.cpuNs >= cpuMs * 1e6) this.limitReached(process, 'cpu_limit');
        else this.checkCpuAfter(process, cpuMs);
      },
      Math.max(1, remainingMs),
    );
    process.timers.push(timer);
  }

  private limitReached(process: IsolatedProcess, reason: 'timeout' | 'cpu_limit' | 'memory_limit'): void {
    if (process.phase !== 'running') return;
    this.crashReport(process, reason);
    this.kernel.terminate(process, reason);
  }

  // ── the sandbox's side ──────────────────────────────────────────────────────────────────

  private threadReady(thread: Sandbox): void {
    this.pool.sandboxReady(thread);
    const process = this.owners.get(thread);
    if (!process) return;
    this.nice.apply(thread, process.priority);
    process.lastCpuReading ??= thread.cpuNs();
    if (process.phase === 'running') this.armLimits(process);
  }

  private threadMessage(thread: Sandbox, message: FromThread): void {
    this.messagesIn++;
    if (message.t === 'ready') return;
    const process = this.owners.get(thread);
    if (!process || message.serial !== thread.serial || process.phase !== 'running') {
      // A fault from an invocation that has ended (work it left behind): never reuse that thread.
      if (message.t === 'fault') {
        if (process) thread.tainted = true;
        else void this.pool.discard(thread);
      }
      return;
    }
    switch (message.t) {
      case 'done':
        this.dropped.log += message.dropped.log;
        this.dropped.progress += message.dropped.progress;
        process.reusable = message.reusable;
        this.finish(process, message.outcome);
        break;
      case 'fault': {
        const error = fromTransferred(message.error);
        this.fail(process, { error, fault: message.fault });
        break;
      }
      case 'send':
        if (!this.allowOutput(process, 'send')) break;
        if (this.refused(process, message.to, 'send')) break;
        this.asProcess(process, () => this.kernel.send(process.pid, message.to, message.message));
        break;
      case 'exit':
        if (this.refused(process, message.to, 'exit')) break;
        this.asProcess(process, () => this.kernel.exit(process.pid, message.to, message.reason));
        break;
      case 'link': {
        if (this.refused(process, message.pid, 'link')) break;
        const failure = this.kernel.link(process, message.pid);
        if (failure !== undefined) this.kernel.terminate(process, failure);
        break;
      }
      case 'unlink':
        this.kernel.unlink(process, message.pid);
        break;
      case 'monitor':
        if (this.refused(process, message.target, 'monitor')) break;
        this.asProcess(process, () => this.kernel.monitor(process, message.target, message.ref));
        break;
      case 'demonitor':
        this.kernel.demonitor(process, message.ref);
        break;
      case 'trap':
        process.trapExit = message.on;
        break;
      case 'spawn':
        this.spawnForThread(process, message);
        break;
      case 'progress':
        if (!this.allowOutput(process, 'progress')) break;
        this.callback(process, 'onProgress', () => process.options.onProgress?.(message.value));
        break;
      case 'fetch':
        this.fetchFor(thread, process, message);
        break;
      case 'startJob':
      case 'awaitJob':
        this.jobTreeFor(thread, process, message);
        break;
      case 'log': {
        if (!this.allowOutput(process, 'log')) break;
        const entry: LogEntry = { pid: process.pid, level: message.level, message: message.message };
        const onLog = process.options.onLog ?? this.options.onLog;
        this.callback(process, 'onLog', () => onLog?.(entry));
        break;
      }
    }
  }

  /**
   * Reading what `thread` sent took the main thread `ms`: charged to its process's CPU time (so
   * its cpuMs limit counts it), and its tenant's sandboxes are not read for a while, so that the
   * tenant takes at most MESSAGE_SHARE of the main thread however it shapes its messages.
   */
  private handlingCost(thread: Sandbox, ms: number): void {
    this.costly.handlingMs += ms;
    const process = this.owners.get(thread);
    if (process) process.cpuNs += ms * 1e6;
    const now = performance.now();
    const pause = ms * (1 / MESSAGE_SHARE - 1);
    const until = Math.max(now, this.tenantPauses.get(thread.tenant) ?? 0) + pause;
    this.tenantPauses.set(thread.tenant, until);
    this.costly.pauses++;
    this.costly.pausedMs += pause;
    for (const sandbox of this.owners.keys()) {
      if (sandbox.tenant === thread.tenant) sandbox.pauseReading(until - now);
    }
    if (!this.owners.has(thread)) thread.pauseReading(until - now);
  }

  /** A sandbox taken for a tenant whose messages are paused is paused as well. */
  private pauseIfThrottled(thread: Sandbox): void {
    const until = this.tenantPauses.get(thread.tenant);
    if (until === undefined) return;
    const left = until - performance.now();
    if (left > 0) thread.pauseReading(left);
    else this.tenantPauses.delete(thread.tenant);
  }

  private threadDied(thread: Sandbox, death: SandboxDeath): void {
    const process = this.owners.get(thread);
    if (!process) {
      this.pool.forget(thread);
      return;
    }
    if (process.phase !== 'running') return;
    if (death.kind === 'out_of_memory') {
      this.crashReport(process, 'memory_limit');
      this.kernel.terminate(process, 'memory_limit');
    } else if (death.kind === 'exit') {
      const error = new Error(`The sandbox exited with code ${death.code} while the function ran.`);
      error.name = 'SandboxExited';
      this.fail(process, { error, fault: 'process_exit' });
    } else {
      const fault = death.error.name === 'ProtocolViolation' ? 'protocol_violation' : 'sandbox_crashed';
      this.fail(process, { error: death.error, fault });
    }
  }

  private finish(process: IsolatedProcess, outcome: Outcome): void {
    process.phase = 'finished';
    if (outcome.kind === 'return') {
      // Exit signals are delivered now, but no receiver runs before this callback returns.
      this.kernel.terminate(process, 'normal');
      this.callback(process, 'onResult', () => process.options.onResult?.(outcome.value));
    } else if (outcome.kind === 'exit') {
      if (!isOrderlyExit(outcome.reason)) this.crashReport(process, outcome.reason);
      this.kernel.terminate(process, outcome.reason);
    } else {
      const reason = { error: fromTransferred(outcome.error) };
      this.crashReport(process, reason);
      this.kernel.terminate(process, reason);
    }
  }

  private fail(process: IsolatedProcess, reason: ExitReason): void {
    this.crashReport(process, reason);
    this.kernel.terminate(process, reason);
  }

  /** Whether one more item of output may go through; counts what is dropped. */
  private allowOutput(process: IsolatedProcess, kind: OutputKind): boolean {
    process.output ??= new OutputLimiter(this.outputRates);
    if (process.output.take(kind)) return true;
    this.dropped[kind]++;
    return false;
  }

  /** Performs a fetch for the process through the node's `fetch` option; the answer goes to the same invocation only. */
  private fetchFor(thread: Sandbox, process: IsolatedProcess, message: Extract<FromThread, { t: 'fetch' }>): void {
    const answer = (reply: { response?: FetchResponse; error?: string }) => {
      if (process.thread !== thread || thread.serial !== message.serial || process.phase !== 'running') return;
      thread.post({ t: 'fetched', serial: message.serial, id: message.id, ...reply });
    };
    if (!this.allowOutput(process, 'fetch')) {
      answer({ error: 'too many requests from this job; slow down' });
      return;
    }
    const perform = this.options.fetch;
    if (!perform) {
      answer({ error: 'this node offers jobs no network access' });
      return;
    }
    if (process.fetchesInFlight >= MAX_FETCHES_IN_FLIGHT) {
      answer({ error: `at most ${MAX_FETCHES_IN_FLIGHT} requests of one job may be in flight; await some first` });
      return;
    }
    process.fetches ??= new AbortController();
    process.fetchesInFlight++;
    perform(process.pid, message.request, process.fetches.signal)
      .then(
        (response) => answer({ response }),
        (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => process.fetchesInFlight--);
  }

  /** Asks the node's job tree host to start or await a child job; the answer goes to the same invocation only. */
  private jobTreeFor(
    thread: Sandbox,
    process: IsolatedProcess,
    message: Extract<FromThread, { t: 'startJob' | 'awaitJob' }>,
  ): void {
    const reply = (value: unknown, error?: unknown) => {
      if (process.thread !== thread || thread.serial !== message.serial || process.phase !== 'running') return;
      // A child's result can be megabytes, and a parent may await it again and again: writing it
      // to the sandbox is the parent's cost, as reading what it sends is.
      const started = threadCpuMs();
      thread.post({
        t: 'reply',
        serial: message.serial,
        id: message.id,
        value,
        ...(error === undefined ? {} : { error: toTransferred(error) }),
      });
      const ms = threadCpuMs() - started;
      if (ms >= HANDLING_COST_REPORT_MS) this.handlingCost(thread, ms);
    };
    const host = this.options.jobs;
    if (!host) {
      reply(undefined, new BadArgError(`Node ${this.node.id} runs no jobs: ${message.t} is not available here.`));
      return;
    }
    if (!this.allowOutput(process, 'send')) {
      reply(undefined, new BadArgError(`${message.t}: this job asks faster than its rate allows; slow down.`));
      return;
    }
    if (process.jobRequestsInFlight >= MAX_JOB_REQUESTS_IN_FLIGHT) {
      reply(
        undefined,
        new BadArgError(
          `${message.t}: at most ${MAX_JOB_REQUESTS_IN_FLIGHT} startJob and awaitJob calls of one job may be unanswered; await some first.`,
        ),
      );
      return;
    }
    process.jobRequestsInFlight++;
    const asked =
      message.t === 'startJob'
        ? host.startJob(process.pid, message.fn, message.input, startJobOptions(message.options))
        : host.awaitJob(process.pid, message.job);
    asked
      .then(
        (value) => reply(value),
        (error: unknown) => reply(undefined, error),
      )
      .finally(() => {
        process.jobRequestsInFlight--;
      });
  }

  /** Ends the process with a BadArgError when the signal guard refuses what it asked for. */
  private refused(process: IsolatedProcess, to: Pid | string, operation: GuardedOperation): boolean {
    const refusal = this.options.signalGuard?.(process.pid, to, operation);
    if (refusal === undefined) return false;
    this.fail(process, { error: new BadArgError(`${operation} to ${to} refused: ${refusal}`) });
    return true;
  }

  /** Runs an operation the process asked for; a bad argument ends the process, as badarg would. */
  private asProcess(process: IsolatedProcess, operation: () => void): void {
    try {
      operation();
    } catch (error) {
      if (!(error instanceof BadArgError)) throw error;
      this.fail(process, { error });
    }
  }

  private spawnForThread(parent: IsolatedProcess, request: Extract<FromThread, { t: 'spawn' }>): void {
    const thread = parent.thread as Sandbox;
    const reply = (value: unknown, error?: unknown) => {
      if (parent.thread !== thread || thread.serial !== request.serial) return;
      thread.post({
        t: 'reply',
        serial: request.serial,
        id: request.id,
        value,
        ...(error === undefined ? {} : { error: toTransferred(error) }),
      });
    };
    const spawnWith = (module: FunctionModule | undefined) => {
      if (!parent.alive) return;
      if (!module) {
        reply(
          undefined,
          new BadArgError(
            `No function "${request.fn}" is known to node ${this.node.id}: define it with scheduler.define(module) or give the scheduler a resolveFunction.`,
          ),
        );
        return;
      }
      try {
        const tenant = parent.options.tenant;
        const options = { ...threadSpawnOptions(request.options), ...(tenant === undefined ? {} : { tenant }) };
        reply(this.spawnIsolated(module, request.input, options, parent, request.relation, request.ref).pid);
      } catch (error) {
        reply(undefined, error);
      }
    };
    const known = this.functions.get(request.fn);
    if (known || !this.options.resolveFunction) {
      spawnWith(known);
      return;
    }
    Promise.resolve()
      .then(() => this.options.resolveFunction?.(request.fn))
      .then(spawnWith, (error: unknown) => reply(undefined, error));
  }

  // ── ending ─────────────────────────────────────────────────────────────────────────────

  /** Stops the body of an ending process; resolves once its thread is gone when it had to be killed. */
  private halt(process: IsolatedProcess, reason: ExitReason): void | Promise<void> {
    process.fetches?.abort();
    for (const timer of process.timers) clearTimeout(timer);
    process.timers = [];
    const label = reasonLabel(reason);
    this.exits.set(label, (this.exits.get(label) ?? 0) + 1);
    const phase = process.phase;
    process.phase = 'ended';
    if (phase === 'queued') {
      this.runQueue.remove(process, process.priority);
      process.takeBuffered();
      return;
    }
    const thread = process.thread as Sandbox;
    this.collectCpu(process);
    this.callback(process, 'onUsage', () => process.options.onUsage?.({ cpuTimeNs: process.cpuNs }));
    this.owners.delete(thread);
    process.detach();
    if (phase === 'finished' || thread.dead) {
      this.live--;
      if (phase === 'finished' && reason === 'normal' && process.reusable && !thread.tainted) {
        this.pool.release(thread, { cpuNs: process.lastCpuReading, residentBytes: process.memory });
      } else if (thread.dead) this.pool.forget(thread);
      else void this.pool.discard(thread);
      this.dispatch();
      return;
    }
    return this.pool.discard(thread).then(() => {
      this.live--;
      this.dispatch();
    });
  }

  // ── accounting ─────────────────────────────────────────────────────────────────────────

  /** Adds the CPU time the process's thread used since the last reading. */
  private collectCpu(process: IsolatedProcess): void {
    const thread = process.thread;
    if (!thread) return;
    const now = thread.cpuNs();
    if (now === undefined) return;
    const last = process.lastCpuReading;
    process.lastCpuReading = now;
    if (last === undefined) return;
    const used = now - last;
    process.cpuNs += used;
    this.accounting.addCpu(process.priority, used);
  }

  private sample(): void {
    for (const process of this.owners.values()) this.collectCpu(process);
    this.accounting.tick();
    this.pool.checkIdle();
  }

  /**
   * Kills a running process whose sandbox holds more memory than its limit: heap, array buffers
   * and anything else it allocated, as the kernel counts it (resident memory above the
   * sandbox's own at start). The data-segment limit stops single allocations far beyond it.
   */
  private watchMemory(): void {
    for (const [thread, process] of this.owners) {
      const limitMb = process.options.memoryMb;
      if (limitMb === undefined || process.phase !== 'running') continue;
      const used = thread.jobMemoryBytes();
      if (used !== undefined && used + thread.unreadBytes() > limitMb * 1024 * 1024) {
        this.limitReached(process, 'memory_limit');
      }
    }
  }

  /**
   * Kills a process whose unread messages hold more of the node's memory than maxUnreadBytes or
   * its memoryMb: without it, anyone allowed to message a busy job could fill the node (a
   * review sent 1.8 GB to one through the REST API). Decided after the send that queued it.
   */
  private checkUnread(process: IsolatedProcess): void {
    const limitMb = process.options.memoryMb;
    const limit = Math.min(this.maxUnreadBytes, limitMb === undefined ? Number.POSITIVE_INFINITY : limitMb * MiB);
    if (process.unreadBytes <= limit || process.phase === 'finished' || process.phase === 'ended') return;
    queueMicrotask(() => {
      if (process.phase === 'running') this.limitReached(process, 'memory_limit');
      else if (process.phase === 'queued') {
        this.crashReport(process, 'memory_limit');
        this.kernel.terminate(process, 'memory_limit');
      }
    });
  }

  private crashReport(process: IsolatedProcess, reason: ExitReason): void {
    this.kernel.report({ type: 'crash', pid: process.pid, initialFunction: process.initialFunction, reason });
  }

  private callback(process: IsolatedProcess, name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.kernel.report({ type: 'callback_error', context: `${name} of ${process.pid}`, error });
    }
  }
}

function threadSpawnOptions(options: ThreadSpawnOptions): IsolatedSpawnOptions {
  const { priority, trapExit, timeoutMs, cpuMs, memoryMb } = options;
  return {
    ...(priority === undefined ? {} : { priority }),
    ...(trapExit === undefined ? {} : { trapExit }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(cpuMs === undefined ? {} : { cpuMs }),
    ...(memoryMb === undefined ? {} : { memoryMb }),
  };
}

/** The options of a startJob request the node reads: these fields only, whatever else the sandbox sent. */
function startJobOptions(options: StartJobOptions): StartJobOptions {
  const { link, monitor, key, priority, timeoutMs, cpuMs, memoryMb, attempts, delayMs } = options;
  const given = { link, monitor, key, priority, timeoutMs, cpuMs, memoryMb, attempts, delayMs };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as StartJobOptions;
}

function positiveMs(value: number, where: string): number {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_LIMIT_MS) {
    throw new BadArgError(`Scheduler option ${where} must be a number of milliseconds > 0; got ${String(value)}.`);
  }
  return value;
}

/** The input as the process will see it: a copy taken at spawn, as the BEAM copies arguments. */
function copyInput(input: unknown): unknown {
  try {
    return structuredClone(input);
  } catch (error) {
    throw new BadArgError(
      `The input cannot be copied to an isolated process (${error instanceof Error ? error.message : String(error)}). Pass plain data: objects, arrays, strings, numbers, Maps, Sets, Dates, Errors.`,
    );
  }
}

function wholeAtLeast(value: number, min: number, where: string): number {
  if (!Number.isInteger(value) || value < min) {
    throw new BadArgError(`Scheduler option ${where} must be a whole number ≥ ${min}; got ${String(value)}.`);
  }
  return value;
}
