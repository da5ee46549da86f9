import { CallError } from './call.js';
import { type Clock, systemClock } from './clock.js';
import type { InitBody, ProcessBody, SpawnOptions, Started } from './context.js';
import { spawnGreen, startGreen } from './green-process.js';
import { Kernel, type RemoteRouter } from './kernel.js';
import { assertValidNodeId, generateNodeId, type Pid, type Ref } from './pid.js';
import type { Priority } from './priority.js';
import type { ProcessKind, ProcessStatus } from './process.js';
import type { ExitReason } from './reason.js';
import type { ReportHandler } from './reports.js';

export interface NodeOptions {
  /** Unique among the nodes of a cluster; generated when omitted. Letters, digits, "_" and "-". */
  readonly id?: string;
  /** Where time comes from; tests pass a `ManualClock`. */
  readonly clock?: Clock;
  /** Carries messages and exit signals to pids of other nodes. */
  readonly remote?: RemoteRouter;
  /** Receives crash reports and supervisor reports. */
  readonly onReport?: ReportHandler;
}

/** Erlang's process_info/1, as plain data. */
export interface ProcessInfo {
  readonly pid: Pid;
  readonly kind: ProcessKind;
  readonly status: ProcessStatus;
  readonly messageQueueLength: number;
  readonly links: Pid[];
  readonly monitors: Array<{ readonly ref: Ref; readonly pid: Pid }>;
  readonly monitoredBy: Pid[];
  readonly registeredName: string | undefined;
  readonly trapExit: boolean;
  readonly initialFunction: string;
  /**
   * Work done: for a green process, messages received and runtime calls made; for an isolated
   * one, its CPU time in nanoseconds (as `cpuTimeNs`).
   */
  readonly reductions: number;
  readonly priority: Priority;
  /** Resident bytes of its sandbox, for processes whose memory the runtime can measure (isolated ones). */
  readonly memory: number | undefined;
  /** CPU time in nanoseconds from the kernel's accounting of the process's sandbox (isolated ones). */
  readonly cpuTimeNs: number | undefined;
  /** The security domain (tenant) of an isolated process; processes it spawns inherit it. */
  readonly tenant: string | undefined;
}

export interface NodeStats {
  readonly nodeId: string;
  readonly processes: {
    readonly total: number;
    readonly byStatus: Record<ProcessStatus, number>;
    readonly byKind: Record<ProcessKind, number>;
  };
  readonly spawned: number;
  /** Exits counted by reason label (normal, shutdown, killed, error, …). */
  readonly exits: Record<string, number>;
  readonly registeredNames: number;
}

/**
 * One runtime instance: a table of processes with a node id that every pid carries. Code
 * outside any process uses these methods; code inside a process uses its `ctx`.
 */
export class Node {
  readonly id: string;
  readonly clock: Clock;
  /** The mechanics behind this node, for the runtime's own modules (supervisors, schedulers). */
  readonly kernel: Kernel;

  constructor(options: NodeOptions = {}) {
    this.id = options.id ?? generateNodeId();
    assertValidNodeId(this.id);
    this.clock = options.clock ?? systemClock;
    this.kernel = new Kernel({
      nodeId: this.id,
      clock: this.clock,
      remote: options.remote,
      onReport: options.onReport,
    });
  }

  /** The pid that signals from outside any process come from (`<node-id>.0`). */
  get pid(): Pid {
    return this.kernel.nodePid;
  }

  spawn(body: ProcessBody, options: SpawnOptions = {}): Pid {
    return spawnGreen(this.kernel, body, options, undefined, 'none').process.pid;
  }

  /** Spawns a process with an init phase and resolves once it calls `ready`; rejects with `StartError`. */
  start<T>(body: InitBody<T>, options: SpawnOptions = {}): Promise<Started<T>> {
    return startGreen(this.kernel, body, options, undefined, false);
  }

  send(to: Pid | string, message: unknown): void {
    this.kernel.send(this.pid, to, message);
  }

  /** Sends an exit signal from the node to `pid` (Erlang's exit/2). */
  exit(pid: Pid, reason: ExitReason): void {
    this.kernel.exit(this.pid, pid, reason);
  }

  register(name: string, pid: Pid): void {
    this.kernel.register(name, pid);
  }

  unregister(name: string): void {
    this.kernel.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.kernel.whereis(name);
  }

  isAlive(pid: Pid): boolean {
    return this.kernel.get(pid) !== undefined;
  }

  processes(): Pid[] {
    return Array.from(this.kernel.processes(), (p) => p.pid);
  }

  processInfo(pid: Pid): ProcessInfo | undefined {
    const p = this.kernel.get(pid);
    if (!p) return undefined;
    const cpuTimeNs = p.cpuTimeNs;
    return {
      pid: p.pid,
      kind: p.kind,
      status: p.observedStatus(),
      messageQueueLength: p.messageQueueLength,
      links: p.links ? [...p.links] : [],
      monitors: p.monitors ? Array.from(p.monitors, ([ref, pid]) => ({ ref, pid })) : [],
      monitoredBy: p.monitoredBy ? [...new Set(p.monitoredBy.values())] : [],
      registeredName: p.registeredName,
      trapExit: p.trapExit,
      initialFunction: p.initialFunction,
      reductions: cpuTimeNs ?? p.reductions,
      priority: p.priority,
      memory: p.memory,
      cpuTimeNs,
      tenant: p.tenant,
    };
  }

  /** Makes a request to a server process from outside any process (through a short-lived one). */
  call<T = unknown>(to: Pid | string, request: unknown, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const caller = this.spawn(
        async (ctx) => {
          try {
            const value = await ctx.call<T>(to, request, timeoutMs);
            settled = true;
            resolve(value);
          } catch (error) {
            settled = true;
            reject(error);
          }
        },
        { label: 'call' },
      );
      this.kernel.onExit(caller, (reason) => {
        if (!settled) reject(new CallError(to, reason));
      });
    });
  }

  /** Resolves with the reason `pid` ends with; `noproc` when it is not alive. */
  waitExit(pid: Pid): Promise<ExitReason> {
    return new Promise((resolve) => this.kernel.onExit(pid, resolve));
  }

  stats(): NodeStats {
    const byStatus: Record<ProcessStatus, number> = { runnable: 0, running: 0, waiting: 0, exiting: 0 };
    const byKind: Record<ProcessKind, number> = { green: 0, isolated: 0 };
    for (const p of this.kernel.processes()) {
      byStatus[p.observedStatus()]++;
      byKind[p.kind]++;
    }
    return {
      nodeId: this.id,
      processes: { total: this.kernel.processCount, byStatus, byKind },
      spawned: this.kernel.spawned,
      exits: Object.fromEntries(this.kernel.exitsByReason),
      registeredNames: this.kernel.registeredNameCount,
    };
  }

  /** Kills every process of the node and resolves when all have ended. */
  async stop(): Promise<void> {
    const pids = this.processes();
    const ended = pids.map((pid) => this.waitExit(pid));
    for (const pid of pids) this.exit(pid, 'kill');
    await Promise.all(ended);
  }
}
