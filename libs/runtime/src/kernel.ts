import type { Clock } from './clock.js';
import { BadArgError } from './errors.js';
import type { DownMessage, ExitMessage } from './messages.js';
import { NameRegistry } from './names.js';
import { isPid, nodeOfPid, type Pid, type Ref } from './pid.js';
import type { Process } from './process.js';
import { type ExitReason, reasonLabel } from './reason.js';
import type { Report, ReportHandler } from './reports.js';

/** Carries signals to pids of other nodes (the control channel plugs in here). */
export interface RemoteRouter {
  send(to: Pid, from: Pid, message: unknown): void;
  exit(to: Pid, from: Pid, reason: ExitReason): void;
}

export interface KernelOptions {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly remote: RemoteRouter | undefined;
  readonly onReport: ReportHandler | undefined;
}

type ExitListener = (reason: ExitReason) => void;

/**
 * The mechanics shared by every process of a node: the process table, registered names, and
 * the delivery of messages and exit signals by the BEAM's rules. Signals raised while
 * signals are being delivered (a death that kills linked processes, and so on) are queued and
 * delivered in order, so chains of any length use constant stack.
 */
export class Kernel {
  readonly nodeId: string;
  readonly clock: Clock;
  /** The pid that signals sent from outside any process come from. */
  readonly nodePid: Pid;
  private readonly table = new Map<Pid, Process>();
  /** Processes that have ended but whose exit signals have not all gone out yet. */
  private readonly exiting = new Map<Pid, Process>();
  private readonly names = new NameRegistry();
  private readonly remote: RemoteRouter | undefined;
  private readonly onReport: ReportHandler | undefined;
  private readonly exitListeners = new Map<Pid, ExitListener[]>();
  private readonly deferred: Array<() => void> = [];
  private draining = false;
  private pidSerial = 0;
  private refSerial = 0;
  spawned = 0;
  readonly exitsByReason = new Map<string, number>();

  constructor(options: KernelOptions) {
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.remote = options.remote;
    this.onReport = options.onReport;
    this.nodePid = `${this.nodeId}.0`;
  }

  nextPid(): Pid {
    return `${this.nodeId}.${++this.pidSerial}`;
  }

  makeRef(): Ref {
    return `${this.nodeId}:${++this.refSerial}`;
  }

  get registeredNameCount(): number {
    return this.names.size;
  }

  get processCount(): number {
    return this.table.size;
  }

  processes(): IterableIterator<Process> {
    return this.table.values();
  }

  get(pid: Pid): Process | undefined {
    return this.table.get(pid);
  }

  /** Adds a freshly created process to the table. */
  admit(process: Process): void {
    this.table.set(process.pid, process);
    this.spawned++;
  }

  isLocal(pid: Pid): boolean {
    return nodeOfPid(pid) === this.nodeId;
  }

  // ── names ──────────────────────────────────────────────────────────────────────────────

  whereis(name: string): Pid | undefined {
    return this.names.whereis(name);
  }

  /** Throws unless `name` is a valid name that nobody holds. */
  assertNameFree(name: string): void {
    this.names.assertFree(name, 'a new process');
  }

  register(name: string, pid: Pid): void {
    const process = this.table.get(pid);
    if (!process) throw new BadArgError(`Cannot register "${name}": ${pid} is not a live process of this node.`);
    this.names.register(name, pid, process.registeredName);
    process.registeredName = name;
  }

  unregister(name: string): void {
    const pid = this.names.unregister(name);
    const process = this.table.get(pid);
    if (process) process.registeredName = undefined;
  }

  /** A pid, or the pid registered under a name. Throws for a name nobody holds. */
  resolve(destination: Pid | string): Pid {
    const named = this.names.whereis(destination);
    if (named !== undefined) return named;
    if (isPid(destination)) return destination;
    throw new BadArgError(
      `No process is registered as ${JSON.stringify(destination)}: send to a pid ("<node-id>.<serial>") or to a registered name.`,
    );
  }

  // ── messages ───────────────────────────────────────────────────────────────────────────

  send(from: Pid, destination: Pid | string, message: unknown): void {
    const to = this.resolve(destination);
    const target = this.table.get(to);
    if (target) {
      this.run(() => target.deliver(message));
    } else if (!this.isLocal(to)) {
      this.remote?.send(to, from, message);
    }
  }

  // ── exit signals ───────────────────────────────────────────────────────────────────────

  /** Erlang's exit/2: an exit signal from `from` to `to`. `kill` cannot be trapped. */
  exit(from: Pid, to: Pid, reason: ExitReason): void {
    const target = this.table.get(to);
    if (target) {
      this.run(() => this.applyExitSignal(target, from, reason, false));
    } else if (!this.isLocal(to)) {
      this.remote?.exit(to, from, reason);
    }
  }

  private applyExitSignal(target: Process, from: Pid, reason: ExitReason, viaLink: boolean): void {
    if (!target.alive) return;
    if (!viaLink && reason === 'kill') {
      this.terminate(target, 'killed');
    } else if (target.trapExit) {
      const message: ExitMessage = { type: 'EXIT', from, reason };
      target.deliver(message);
    } else if (reason !== 'normal') {
      this.terminate(target, reason);
    } else if (!viaLink && from === target.pid) {
      this.terminate(target, 'normal');
    }
  }

  // ── links and monitors ─────────────────────────────────────────────────────────────────

  /**
   * Links `process` to `to`. When `to` is gone, a trapping process gets an EXIT message with
   * `noproc` (or `noconnection` for a remote pid); for one that does not trap, the reason is
   * returned for the caller to raise (on the BEAM, link/1 fails with it).
   */
  link(process: Process, to: Pid): ExitReason | undefined {
    if (to === process.pid) return undefined;
    const target = this.table.get(to);
    if (target) {
      process.addLink(to);
      target.addLink(process.pid);
      return undefined;
    }
    const reason = this.isLocal(to) ? 'noproc' : 'noconnection';
    if (!process.trapExit) return reason;
    const message: ExitMessage = { type: 'EXIT', from: to, reason };
    this.run(() => process.deliver(message));
    return undefined;
  }

  unlink(process: Process, to: Pid): void {
    process.removeLink(to);
    this.table.get(to)?.removeLink(process.pid);
  }

  /** `ref` is given by isolated processes, which make their refs in their own thread. */
  monitor(watcher: Process, target: Pid | string, ref: Ref = this.makeRef()): Ref {
    const pid = this.names.whereis(target) ?? target;
    const watched = this.table.get(pid);
    if (watched) {
      watched.monitoredBy ??= new Map();
      watched.monitoredBy.set(ref, watcher.pid);
      watcher.monitors ??= new Map();
      watcher.monitors.set(ref, pid);
    } else {
      const reason = isPid(pid) && !this.isLocal(pid) ? 'noconnection' : 'noproc';
      const down: DownMessage = { type: 'DOWN', ref, pid, reason };
      this.run(() => watcher.deliver(down));
    }
    return ref;
  }

  /** Removes a monitor. Returns false when it had already fired or never existed. */
  demonitor(watcher: Process, ref: Ref): boolean {
    const pid = watcher.monitors?.get(ref);
    if (pid === undefined) return false;
    watcher.monitors?.delete(ref);
    this.table.get(pid)?.monitoredBy?.delete(ref);
    return true;
  }

  /** Calls `listener` once when `pid` ends; at once with `noproc` if it is not alive. */
  onExit(pid: Pid, listener: ExitListener): void {
    if (!this.table.has(pid) && !this.exiting.has(pid)) {
      listener('noproc');
      return;
    }
    const listeners = this.exitListeners.get(pid);
    if (listeners) listeners.push(listener);
    else this.exitListeners.set(pid, [listener]);
  }

  // ── termination ────────────────────────────────────────────────────────────────────────

  /**
   * Ends a process: from this moment it is not alive, its name is free and messages to it are
   * dropped. Once its body has stopped, its links receive exit signals and its monitors DOWN.
   */
  terminate(process: Process, reason: ExitReason): void {
    if (!process.alive) return;
    process.status = 'exiting';
    this.table.delete(process.pid);
    this.exiting.set(process.pid, process);
    if (process.registeredName !== undefined) {
      this.names.release(process.registeredName);
      process.registeredName = undefined;
    }
    const halted = this.haltBody(process, reason);
    if (halted) {
      halted.then(
        () => this.run(() => this.broadcastExit(process, reason)),
        () => this.run(() => this.broadcastExit(process, reason)),
      );
    } else {
      this.run(() => this.broadcastExit(process, reason));
    }
  }

  /** Stops the process's body; a halt that throws is reported and the exit goes on. */
  private haltBody(process: Process, reason: ExitReason): void | Promise<void> {
    try {
      return process.halt(reason);
    } catch (error) {
      this.report({ type: 'callback_error', context: `halt of ${process.pid}`, error });
      return undefined;
    }
  }

  private broadcastExit(process: Process, reason: ExitReason): void {
    const pid = process.pid;
    this.exiting.delete(pid);
    const label = reasonLabel(reason);
    this.exitsByReason.set(label, (this.exitsByReason.get(label) ?? 0) + 1);
    if (process.monitors) {
      for (const [ref, watched] of process.monitors) this.table.get(watched)?.monitoredBy?.delete(ref);
      process.monitors = undefined;
    }
    if (process.links) {
      for (const linked of process.links) {
        const target = this.table.get(linked);
        if (target) {
          target.removeLink(pid);
          this.applyExitSignal(target, pid, reason, true);
        }
      }
      process.links = undefined;
    }
    if (process.monitoredBy) {
      for (const [ref, watcher] of process.monitoredBy) {
        const target = this.table.get(watcher);
        if (!target) continue;
        target.monitors?.delete(ref);
        const down: DownMessage = { type: 'DOWN', ref, pid, reason };
        target.deliver(down);
      }
      process.monitoredBy = undefined;
    }
    const listeners = this.exitListeners.get(pid);
    if (listeners) {
      this.exitListeners.delete(pid);
      for (const listener of listeners) this.guarded('exit listener', () => listener(reason));
    }
  }

  report(report: Report): void {
    if (!this.onReport) return;
    try {
      this.onReport(report);
    } catch {
      // A failing report handler must not break signal delivery.
    }
  }

  /**
   * Runs `step` now, or after the signal being delivered when called during delivery, so that
   * signals keep their order and cascades do not grow the stack.
   */
  run(step: () => void): void {
    if (this.draining) {
      this.deferred.push(step);
      return;
    }
    this.draining = true;
    try {
      step();
    } finally {
      for (let i = 0; i < this.deferred.length; i++) this.guarded('signal delivery', this.deferred[i] as () => void);
      this.deferred.length = 0;
      this.draining = false;
    }
  }

  /** Runs a callback whose failure must not stop the delivery of other signals; a failure is reported. */
  private guarded(context: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.report({ type: 'callback_error', context, error });
    }
  }
}
