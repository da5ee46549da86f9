import type { Pid, Ref } from './pid.js';
import type { Priority } from './priority.js';
import type { ExitReason } from './reason.js';

/**
 * `runnable`: waiting for a scheduler slot (isolated processes); `running`: executing;
 * `waiting`: blocked in `receive`; `exiting`: ending.
 */
export type ProcessStatus = 'runnable' | 'running' | 'waiting' | 'exiting';
export const PROCESS_STATUSES: readonly ProcessStatus[] = ['runnable', 'running', 'waiting', 'exiting'];
export type ProcessKind = 'green' | 'isolated';

/**
 * What the kernel keeps about every process, whatever runs its body: identity, links,
 * monitors, registered name and flags. Subclasses say how messages reach the body and how the
 * body is stopped.
 */
export abstract class Process {
  /** The kernel's view: `exiting` from the moment the process ends. See `observedStatus`. */
  status: ProcessStatus = 'running';
  trapExit = false;
  registeredName: string | undefined;
  reductions = 0;
  /** Pids this process is linked to. Created on first link. */
  links: Set<Pid> | undefined;
  /** Monitors this process holds: ref → monitored pid. */
  monitors: Map<Ref, Pid> | undefined;
  /** Monitors held on this process: ref → watching pid. */
  monitoredBy: Map<Ref, Pid> | undefined;

  constructor(
    readonly pid: Pid,
    readonly kind: ProcessKind,
    readonly priority: Priority,
    readonly initialFunction: string,
  ) {}

  get alive(): boolean {
    return this.status !== 'exiting';
  }

  abstract get messageQueueLength(): number;

  /** Bytes attributable to this process, where the runtime can measure them. */
  get memory(): number | undefined {
    return undefined;
  }

  /** CPU time consumed, in nanoseconds, where the kernel accounts it (isolated processes). */
  get cpuTimeNs(): number | undefined {
    return undefined;
  }

  /** The security domain (tenant) of an isolated process, given by whoever spawned it; none for green ones. */
  get tenant(): string | undefined {
    return undefined;
  }

  /** The status as `processInfo` reports it; an isolated process reads it from its thread. */
  observedStatus(): ProcessStatus {
    return this.status;
  }

  /** Puts a message (or a trapped EXIT, or a DOWN) into the process's mailbox. */
  abstract deliver(message: unknown): void;

  /** Stops the body. The kernel sends the exit signals once the returned promise (if any) settles. */
  abstract halt(reason: ExitReason): void | Promise<void>;

  addLink(pid: Pid): void {
    this.links ??= new Set();
    this.links.add(pid);
  }

  removeLink(pid: Pid): void {
    this.links?.delete(pid);
  }
}
