import type { Timeout } from '../context.js';
import type { Matcher } from '../mailbox.js';
import type { Pid, Ref } from '../pid.js';
import type { ExitReason } from '../reason.js';
import type { LogLevel, ThreadSpawnOptions } from './protocol.js';

/**
 * The `ctx` an isolated process's function receives, inside its own thread. It mirrors a green
 * process's context where that can work across threads: what must reach the node (send, link,
 * exit signals) is posted and takes effect in order; what needs an answer from the node (spawn)
 * returns a promise.
 */
export interface FunctionContext {
  readonly self: Pid;
  readonly nodeId: string;
  /** Aborted when this invocation ends, so work it started (timers, fetches) stops with it. */
  readonly signal: AbortSignal;

  /** Sends a copy of `message` (structured clone) to a pid or registered name. */
  send(to: Pid | string, message: unknown): void;
  /** Selective receive, as in green processes; with `timeoutMs`, TIMEOUT when nothing matches in time. */
  receive<T = unknown>(match?: Matcher<T>): Promise<T>;
  receive<T = unknown>(match: Matcher<T> | undefined, timeoutMs: number): Promise<T | Timeout>;
  /** Waits `ms` milliseconds (messages keep queueing). */
  sleep(ms: number): Promise<void>;

  /** Spawns another function (by the id the scheduler knows it under) as an isolated process. */
  spawn(fn: string, input?: unknown, options?: ThreadSpawnOptions): Promise<Pid>;
  spawnLink(fn: string, input?: unknown, options?: ThreadSpawnOptions): Promise<Pid>;
  spawnMonitor(
    fn: string,
    input?: unknown,
    options?: ThreadSpawnOptions,
  ): Promise<{ readonly pid: Pid; readonly ref: Ref }>;

  /** Links to `pid`; if it is gone, this process gets the `noproc` exit signal (an EXIT when trapping). */
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  monitor(target: Pid | string): Ref;
  demonitor(ref: Ref, options?: { readonly flush?: boolean }): void;

  /** Ends this process with `reason` (Erlang's exit/1). */
  exit(reason: ExitReason): never;
  /** Sends an exit signal to `pid` (Erlang's exit/2). */
  exit(pid: Pid, reason: ExitReason): void;
  /** Sets whether exit signals become EXIT messages; returns the previous setting. */
  trapExit(on: boolean): boolean;

  /** Reports progress (a number or any copyable value) to whoever started the process. */
  progress(value: unknown): void;
  /** A log line (string or copyable value) for whoever started the process. */
  log(message: unknown, level?: LogLevel): void;
}

/** What a function module's default export must be. */
export type IsolatedFunction = (input: unknown, ctx: FunctionContext) => unknown;
