import type { Pid, Ref } from '../pid.js';
import type { Priority } from '../priority.js';

/**
 * Job trees (ADR 0013): a job's process starts child jobs and awaits them. The runtime knows
 * nothing of jobs: it carries the requests from the sandbox to the node's `JobTreeHost` and the
 * answers back; the worker node decides everything (tenant, parent, limits).
 */

/** Options of `ctx.startJob`. Link is the default; `monitor: true` monitors instead. */
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

/** What the node does for job code's startJob and awaitJob (the worker node gives one; elsewhere both are refused). */
export interface JobTreeHost {
  /** Starts a child job of the job `from` runs; rejects with an Error that says why not. */
  startJob(from: Pid, fn: string, input: unknown, options: StartJobOptions): Promise<ChildJob>;
  /** Resolves with the child's result once it completed; rejects with a ChildJobFailed error when it failed or was cancelled. */
  awaitJob(from: Pid, jobId: string): Promise<unknown>;
}
