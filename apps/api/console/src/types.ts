import type { NodeSample } from '../../src/console/cluster-feed.js';

/** What the API sends the console: the shapes of GET /v1/console/stream and the /v1 resources it lists. */

export type Priority = 'max' | 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['max', 'high', 'normal', 'low'];

// The shapes the server's feed sends, from the module that sends them (types only: nothing of it is bundled).
export type { NodeTree } from '../../src/console/audience.js';
export type { ConsoleProcess, NodeSample, Viewer } from '../../src/console/cluster-feed.js';
export type { SupervisionEntry } from '../../src/contract/processes.js';

import type { NodeTree } from '../../src/console/audience.js';
import type { ConsoleProcess } from '../../src/console/cluster-feed.js';

export interface SchedulerStats {
  readonly cores?: number;
  readonly maxProcesses?: number;
  readonly live?: number;
  readonly utilization?: number;
  readonly windowMs?: number;
  readonly mainThread?: { readonly utilization: number };
}

export interface ConsoleNode {
  readonly node: string;
  readonly lastSeen: string;
  readonly stats: SchedulerStats;
  readonly processes: number;
  readonly sample: NodeSample;
}

export interface Snapshot {
  readonly at: number;
  readonly redis: boolean;
  readonly nodes?: readonly ConsoleNode[];
  readonly processes: readonly ConsoleProcess[];
  readonly supervision?: readonly NodeTree[];
}

export type History = Record<string, readonly NodeSample[]>;

export interface JobExit {
  readonly reason: string;
  readonly message: string;
  readonly stack?: string;
  readonly fault?: string;
}

export interface Job {
  readonly id: string;
  readonly state: string;
  readonly function: string;
  readonly version: number;
  readonly priority: string;
  readonly input: unknown;
  readonly attempts: { readonly made: number; readonly max: number };
  readonly progress: unknown;
  readonly pid?: string;
  readonly node?: string;
  readonly result?: unknown;
  readonly exit?: JobExit;
  readonly submittedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** For a run of a schedule: the schedule's id. */
  readonly schedule?: string;
  /** For a job started by a job (ctx.startJob): that job, and how the two are tied. */
  readonly parent?: { readonly id: string; readonly relation: 'link' | 'monitor' | 'none' };
  /** For a job that started jobs: how many (and, from GET /v1/jobs/{id}, the first ids). */
  readonly children?: { readonly total: number; readonly ids?: readonly string[] };
}

/** A page of GET /v1/jobs/{id}/children. */
export interface JobChildren {
  readonly jobs: readonly Job[];
  readonly total: number;
  readonly offset: number;
}

export const ENDED_STATES: readonly string[] = ['completed', 'failed', 'cancelled'];

export const JOB_STATES = ['waiting', 'delayed', 'running', 'completed', 'failed', 'cancelled'] as const;

/** A function's defaults: its limits (ADR 0016) beside its other policies (timeout, attempts, memory…). */
export interface FunctionDefaults {
  readonly concurrency?: number;
  readonly keyConcurrency?: number;
  readonly ratePerSecond?: number;
  readonly [policy: string]: unknown;
}

export interface DeployedFunction {
  readonly name: string;
  readonly version: number;
  readonly sha256: string;
  readonly defaults: FunctionDefaults;
  readonly createdAt: string;
  readonly builtin: boolean;
  /** Whether it is paused for you, if the list says (GET /v1/functions/{name} always does). */
  readonly paused?: boolean;
}

/** GET /v1/functions/{name}: the function, its versions newest first, and whether it is paused for you. */
export interface FunctionDetail {
  readonly name: string;
  readonly latest: DeployedFunction;
  readonly versions: readonly DeployedFunction[];
  readonly paused: boolean;
}

/** A schedule as GET /v1/schedules lists it: its definition flat (the job's options too), beside its state. */
export interface Schedule {
  readonly id: string;
  readonly function: string;
  readonly input?: unknown;
  readonly cron?: string;
  readonly everyMs?: number;
  readonly timezone?: string;
  readonly paused: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly nextRunAt: string | null;
  readonly [option: string]: unknown;
}

export interface ScheduledRun {
  readonly jobId: string;
  readonly dueAt: string;
  readonly producedAt: string;
  readonly skipped: boolean;
  readonly state: string | null;
}

/** GET /v1/schedules/{id}: the schedule, its next due times and its most recent runs, newest first. */
export interface ScheduleDetail extends Schedule {
  readonly nextRuns: readonly string[];
  readonly lastRuns: readonly ScheduledRun[];
}
