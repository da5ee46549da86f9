/**
 * The `ctx` a Beamline function receives, as the job runtime offers it inside the sandbox. A copy
 * of @beamline/runtime's FunctionContext (that package is the platform's own, not published);
 * test/context-sync.test.ts fails the typecheck when the two drift apart.
 */

/** A process identifier: `<node-id>.<serial>`, unique across every node of a cluster. */
export type Pid = string;

/** A unique reference, as monitors return: `<pid>:<serial>`. */
export type Ref = string;

/** Process priorities, as on the BEAM: max > high > normal > low. Priority reaches the CPU. */
export type Priority = 'max' | 'high' | 'normal' | 'low';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Why a process ended. As in Erlang, any value may be a reason; the runtime gives a meaning to
 * `'normal'`, `'kill'` (cannot be trapped; the victim ends with `'killed'`), `'shutdown'`,
 * `'noproc'` (linking or monitoring a dead pid), `'noconnection'` and `{ error }` (the body threw).
 */
export type ExitReason = unknown;

/** Decides whether `receive` takes a message. A type guard narrows what `receive` returns. */
export type Matcher<T = unknown> = ((message: unknown) => message is T) | ((message: unknown) => boolean);

/**
 * What `receive` resolves to when its timeout passes first: a symbol, so it can never be a message
 * (messages are copies, and a symbol cannot be copied). Test it with `isTimeout`.
 */
export type Timeout = symbol;

/** Options for spawning another function as an isolated process. */
export interface SpawnOptions {
  readonly priority?: Priority;
  readonly trapExit?: boolean;
  readonly timeoutMs?: number;
  readonly cpuMs?: number;
  readonly memoryMb?: number;
}

/** Options of `ctx.startJob` (job trees, ADR 0013). Link is the default; `monitor: true` monitors instead. */
export interface StartJobOptions {
  /** Tie the child's fate to the parent's (default true): see FunctionContext.startJob. */
  readonly link?: boolean;
  /** Receive a `DOWN` message when the child ends, instead of linking. */
  readonly monitor?: boolean;
  /**
   * Names the child among the parent's children: a retried parent that starts a child with the
   * same key gets the child its earlier run started. Default: the call's place in the run
   * (the 1st, 2nd… startJob), which is right for a parent that starts its children in the same order each run.
   */
  readonly key?: string;
  readonly priority?: Priority;
  readonly timeoutMs?: number;
  readonly cpuMs?: number;
  readonly memoryMb?: number;
  readonly attempts?: number;
  readonly delayMs?: number;
}

/** A child job as its parent holds it. */
export interface ChildJob {
  /** The child's job id (as the REST API shows it). */
  readonly id: string;
  /** With `monitor`: the ref its DOWN message carries. */
  readonly ref?: Ref;
}

/**
 * How a child job ended when it did not complete: its state and exit, as the REST API shows
 * them. `awaitJob` rejects with an Error named `ChildJobFailed` whose `code` is `reason` and
 * whose message names the child.
 */
export interface ChildJobEnd {
  readonly state: 'failed' | 'cancelled';
  /** One of the job store's exit reasons: error, timeout, cpu_limit, memory_limit, killed, cancelled, … */
  readonly reason: string;
  readonly message: string;
}

/**
 * What a parent that traps exits receives when a linked child job fails for good, instead of
 * dying: `from` is `job:<id>`, so it is never a pid.
 */
export interface JobExitMessage {
  readonly type: 'EXIT';
  readonly from: string;
  readonly job: string;
  readonly reason: ChildJobEnd;
}

/** What a monitored child job's end delivers: `reason` is `'normal'` when it completed (`result` holds what it returned). */
export interface JobDownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  /** `job:<id>`: never a pid. */
  readonly pid: string;
  readonly job: string;
  readonly reason: 'normal' | ChildJobEnd;
  readonly result?: unknown;
}

/** What every process's ctx offers: messages, links, monitors, exit signals. */
export interface MessagingContext {
  readonly self: Pid;
  readonly nodeId: string;
  /** Aborted when the invocation ends, so pending work (a fetch, a timer) can stop. */
  readonly signal: AbortSignal;

  /** Sends a message to a pid or a registered name. A message to a dead pid is dropped. */
  send(to: Pid | string, message: unknown): void;
  /**
   * Takes the first message that `match` accepts (all messages when omitted), waiting for one
   * to arrive; the others stay queued in order (selective receive). With `timeoutMs`, resolves to
   * a `Timeout` when none arrives in time; 0 polls.
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

/**
 * The `ctx` of a function running as an isolated process. What must reach the node (send, link,
 * exit signals, trapExit) takes effect in order; linking a dead pid sends this process `noproc`;
 * spawning answers with a promise.
 */
export interface FunctionContext extends MessagingContext {
  /** Spawns another function (by the id the scheduler knows it under) as an isolated process. */
  spawn(fn: string, input?: unknown, options?: SpawnOptions): Promise<Pid>;
  spawnLink(fn: string, input?: unknown, options?: SpawnOptions): Promise<Pid>;
  spawnMonitor(fn: string, input?: unknown, options?: SpawnOptions): Promise<{ readonly pid: Pid; readonly ref: Ref }>;

  /**
   * Removes a monitor; with `flush`, also drops its DOWN whether it has arrived or is still on its
   * way. Always true, as OTP's demonitor/2.
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
  /** A log line (string or copyable value) in the job's log. */
  log(message: unknown, level?: LogLevel): void;
}

/** What a process that traps exits receives instead of dying: Erlang's `{'EXIT', From, Reason}`. */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** What a monitor delivers when its target ends: Erlang's `{'DOWN', Ref, process, Pid, Reason}`. */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly pid: Pid;
  readonly reason: ExitReason;
}
