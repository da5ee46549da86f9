import type { ProcessContext } from '../context.js';
import type { Pid } from '../pid.js';
import type { ExitReason } from '../reason.js';

export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
/** permanent: always restarted; transient: unless it ended normal/shutdown/{shutdown,_}; temporary: never. */
export type RestartType = (typeof RESTART_TYPES)[number];

export const AUTO_SHUTDOWNS = ['never', 'any_significant', 'all_significant'] as const;
export type AutoShutdown = (typeof AUTO_SHUTDOWNS)[number];

export type ChildType = 'worker' | 'supervisor';

/** brutal_kill: kill at once; a number: ask with `shutdown`, kill after that many ms; infinity: wait. */
export type Shutdown = 'brutal_kill' | 'infinity' | number;

export interface SupervisorFlags {
  /** Default one_for_one. */
  readonly strategy?: Strategy;
  /** Restarts allowed within `periodMs` before the supervisor gives up. Default 1. */
  readonly intensity?: number;
  /** The sliding window for `intensity`, in milliseconds. Default 5000. */
  readonly periodMs?: number;
  /** Whether the supervisor ends itself when significant children end. Default never. */
  readonly autoShutdown?: AutoShutdown;
}

/**
 * What a child's start function returns: the pid of a process linked to the supervisor,
 * `{ pid, info }` (OTP's {ok, Pid, Info}), `'ignore'` (no process now; OTP's ignore), or
 * `{ error: reason }`. A throw is a start error too.
 */
export type StartResult =
  | Pid
  | 'ignore'
  | { readonly pid: Pid; readonly info?: unknown }
  | { readonly error: ExitReason };

/**
 * Starts the child from inside the supervisor process: spawn it with `ctx.spawnLink` (or
 * `ctx.startLink` to wait for its init). simple_one_for_one children also get the extra
 * arguments given to `startChild`.
 */
export type ChildStart = (ctx: ProcessContext, ...args: readonly unknown[]) => StartResult | Promise<StartResult>;

export interface ChildSpec {
  readonly id: string;
  readonly start: ChildStart;
  /** Default permanent. */
  readonly restart?: RestartType;
  /** Default 5000 for a worker, infinity for a supervisor. */
  readonly shutdown?: Shutdown;
  /** Default worker. */
  readonly type?: ChildType;
  /** A significant child's own exit can end the supervisor (see autoShutdown). Default false. */
  readonly significant?: boolean;
}

/** A child spec with every default filled in. */
export interface ResolvedChildSpec {
  readonly id: string;
  readonly start: ChildStart;
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
}

export interface ResolvedFlags {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly periodMs: number;
  readonly autoShutdown: AutoShutdown;
}

/** `pid` is the running process, `'restarting'` while a failed restart waits to be retried, undefined when stopped. */
export interface ChildInfo {
  readonly id: string | undefined;
  readonly pid: Pid | 'restarting' | undefined;
  readonly type: ChildType;
}

export interface ChildCounts {
  /** Child specs (simple_one_for_one: always 1). */
  readonly specs: number;
  /** Children with a live process. */
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

export interface InvalidSpec {
  readonly ok: false;
  readonly error: 'invalid_child_spec';
  readonly field: string;
  readonly message: string;
}

export type StartChildResult =
  | { readonly ok: true; readonly pid: Pid | undefined; readonly info?: unknown }
  | { readonly ok: false; readonly error: 'already_started'; readonly pid: Pid }
  | { readonly ok: false; readonly error: 'already_present' }
  | { readonly ok: false; readonly error: 'start_failed'; readonly reason: ExitReason }
  | InvalidSpec;

export type TerminateChildResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: 'not_found' | 'simple_one_for_one' };

export type RestartChildResult =
  | { readonly ok: true; readonly pid: Pid | undefined; readonly info?: unknown }
  | { readonly ok: false; readonly error: 'running' | 'restarting' | 'not_found' | 'simple_one_for_one' }
  | { readonly ok: false; readonly error: 'start_failed'; readonly reason: ExitReason };

export type DeleteChildResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: 'running' | 'restarting' | 'not_found' | 'simple_one_for_one' };

export type WhichChildResult =
  | { readonly ok: true; readonly child: ChildInfo }
  | { readonly ok: false; readonly error: 'not_found' | 'simple_one_for_one' };

export type GetChildSpecResult =
  | { readonly ok: true; readonly spec: ResolvedChildSpec }
  | { readonly ok: false; readonly error: 'not_found' };
