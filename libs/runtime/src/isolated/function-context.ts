import type { MessagingContext } from '../context.js';
import type { Pid, Ref } from '../pid.js';
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

  /** Reports progress (a number or any copyable value) to whoever started the process. */
  progress(value: unknown): void;
  /** A log line (string or copyable value) for whoever started the process. */
  log(message: unknown, level?: LogLevel): void;
}

/** What a function module's default export must be. */
export type IsolatedFunction = (input: unknown, ctx: FunctionContext) => unknown;
