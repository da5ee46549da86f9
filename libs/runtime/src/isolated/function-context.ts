import type { MessagingContext } from '../context.js';
import type { Pid, Ref } from '../pid.js';
import type { ChildJob, StartJobOptions } from './job-tree.js';
import type { LogLevel, ThreadSpawnOptions } from './protocol.js';

/**
 * The `ctx` an isolated process's function receives, inside its own thread. It has a green
 * process's messaging (copies cross the thread boundary): what must reach the node (send, link,
 * exit signals, trapExit) is posted and takes effect in order; linking a dead pid sends this
 * process `noproc`; what needs an answer from the node (spawn) returns a promise.
 */
export interface FunctionContext extends MessagingContext {
  /** Spawns another function (by the id the scheduler knows it under) as an isolated process. */
  spawn(fn: string, input?: unknown, options?: ThreadSpawnOptions): Promise<Pid>;
  spawnLink(fn: string, input?: unknown, options?: ThreadSpawnOptions): Promise<Pid>;
  spawnMonitor(
    fn: string,
    input?: unknown,
    options?: ThreadSpawnOptions,
  ): Promise<{ readonly pid: Pid; readonly ref: Ref }>;

  /**
   * Removes a monitor; with `flush`, also drops its DOWN whether it has arrived or is still on its
   * way. Always true, as OTP's demonitor/2 (whether the monitor was still active is the node's to know).
   */
  demonitor(ref: Ref, options?: { readonly flush?: boolean }): true;

  /**
   * Starts a child job (ADR 0013): an ordinary job of this job's tenant, anywhere in the cluster,
   * counted in the tenant's backlog. Linked by default: when it fails for good this job dies with
   * it (an error naming the child), or, trapping exits, receives a JobExitMessage; when this job
   * fails for good or is cancelled, its linked children still open are cancelled. With
   * `monitor: true` its end is a JobDownMessage instead. Rejects when this job has its most
   * children, the tree would be too deep, or the backlog is full.
   */
  startJob(fn: string, input?: unknown, options?: StartJobOptions): Promise<ChildJob>;
  /**
   * The result of a child job of this job, once it completed (at once when it had); rejects with
   * an Error named `ChildJobFailed` (its `code` the child's exit reason) when it failed or was
   * cancelled, and with a BadArgError for a job that is not this job's child.
   */
  awaitJob(child: ChildJob | string): Promise<unknown>;

  /** Reports progress (a number or any copyable value) to whoever started the process. */
  progress(value: unknown): void;
  /** A log line (string or copyable value) for whoever started the process. */
  log(message: unknown, level?: LogLevel): void;
}

/** What a function module's default export must be. */
export type IsolatedFunction = (input: unknown, ctx: FunctionContext) => unknown;
