import type { Matcher } from './mailbox.js';
import type { Pid, Ref } from './pid.js';
import type { Priority } from './priority.js';
import type { ExitReason } from './reason.js';

/** What `receive` returns when its timeout passes before a matching message arrives. */
export const TIMEOUT: unique symbol = Symbol('beamline.receive.timeout');
export type Timeout = typeof TIMEOUT;

/** The body of a process. It ends normally when it returns; a throw ends it with `{ error }`. */
export type ProcessBody = (ctx: ProcessContext) => unknown;

/**
 * The body of a process started with an init phase (OTP's proc_lib): the starter waits until
 * the body calls `ready(value)`, and fails if the process ends first.
 */
export type InitBody<T> = (ctx: ProcessContext, ready: (value: T) => void) => unknown;

export interface SpawnOptions {
  /** Scheduling priority (reaches the CPU for isolated processes). Default `normal`. */
  readonly priority?: Priority;
  /** Registers the process under this name before its body runs. */
  readonly name?: string;
  /** Starts the process trapping exits. */
  readonly trapExit?: boolean;
  /** The name `processInfo` shows as the initial function; defaults to the body's name. */
  readonly label?: string;
}

/** Erlang's demonitor/2 options. */
export interface DemonitorOptions {
  /** Also removes the monitor's DOWN message if it has already arrived. */
  readonly flush?: boolean;
  /** Returns whether the monitor was still active (so no DOWN was or will be delivered), not true. */
  readonly info?: boolean;
}

/** Identifies a pending `call`, so that the server can `reply` to it. */
export interface CallFrom {
  readonly pid: Pid;
  readonly ref: Ref;
}

/** A request made with `call`, as the server's `receive` sees it. */
export interface CallMessage<R = unknown> {
  readonly type: '$call';
  readonly from: CallFrom;
  readonly request: R;
}

export interface Started<T> {
  readonly pid: Pid;
  readonly value: T;
}

/** What every process's ctx offers, green or isolated: messages, links, monitors, exit signals. */
export interface MessagingContext {
  readonly self: Pid;
  readonly nodeId: string;
  /** Aborted when the process (for an isolated one, its invocation) ends, so pending work can stop. */
  readonly signal: AbortSignal;

  /** Sends a message to a pid or a registered name. A message to a dead pid is dropped. */
  send(to: Pid | string, message: unknown): void;
  /**
   * Takes the first message that `match` accepts (all messages when omitted), waiting for one
   * to arrive. With `timeoutMs`, resolves to `TIMEOUT` when none arrives in time; 0 polls.
   */
  receive<T = unknown>(match?: Matcher<T>): Promise<T>;
  receive<T = unknown>(match: Matcher<T> | undefined, timeoutMs: number): Promise<T | Timeout>;
  /** Waits `ms` milliseconds (messages keep queueing). */
  sleep(ms: number): Promise<void>;

  link(pid: Pid): void;
  unlink(pid: Pid): void;
  monitor(target: Pid | string): Ref;

  /** Ends the calling process with `reason` (Erlang's exit/1). */
  exit(reason: ExitReason): never;
  /** Sends an exit signal to `pid` (Erlang's exit/2). */
  exit(pid: Pid, reason: ExitReason): void;
  /** Sets whether exit signals become EXIT messages; returns the previous setting. */
  trapExit(on: boolean): boolean;
}

/** A green process's view of the runtime: Erlang's BIFs for the process that runs the body. */
export interface ProcessContext extends MessagingContext {
  spawn(body: ProcessBody, options?: SpawnOptions): Pid;
  spawnLink(body: ProcessBody, options?: SpawnOptions): Pid;
  spawnMonitor(body: ProcessBody, options?: SpawnOptions): { readonly pid: Pid; readonly ref: Ref };
  /** Spawns a linked process and waits until it calls `ready` (or fails with `StartError`). */
  startLink<T>(body: InitBody<T>, options?: SpawnOptions): Promise<Started<T>>;

  /** Removes a monitor and returns true, active or not, as demonitor/2 (the `info` option tells which). */
  demonitor(ref: Ref, options?: DemonitorOptions & { readonly info?: false }): true;
  demonitor(ref: Ref, options?: DemonitorOptions): boolean;

  register(name: string, pid?: Pid): void;
  unregister(name: string): void;
  whereis(name: string): Pid | undefined;
  isAlive(pid: Pid): boolean;

  /**
   * Sends `request` to a server and waits for its `reply` (gen_server:call). Fails with
   * CallError: `noproc`, `timeout`, the server's exit reason, or at once `calling_self`.
   */
  call<T = unknown>(to: Pid | string, request: unknown, timeoutMs?: number): Promise<T>;
  reply(from: CallFrom, value: unknown): void;
}
