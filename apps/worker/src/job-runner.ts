import { describeExit, type JobData, type Keys, type RunningJob } from '@beamline/jobs';
import type { ExitReason, LogEntry, Pid, SupervisorClient } from '@beamline/runtime';
import { type Job, UnrecoverableError, WaitingError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FunctionCache } from './function-cache.js';
import type { WorkerMetrics } from './metrics.js';

/** What the job supervisor's start function needs to spawn a job's process. */
export interface JobLaunch {
  readonly job: Job<JobData>;
  readonly moduleSource: { readonly id: string; readonly source: string };
  readonly onResult: (value: unknown) => void;
  readonly onExit: (reason: ExitReason) => void;
  readonly onProgress: (value: unknown) => void;
  readonly onLog: (entry: LogEntry) => void;
  readonly onUsage: (usage: { readonly cpuTimeNs: number }) => void;
}

/** One run of a job: its process and what the runner learns of it. */
interface RunOfJob {
  readonly pid: Pid;
  readonly exited: Promise<ExitReason>;
  cancelRequested: boolean;
  readonly startedAt: number;
  readonly label: string;
  readonly result: { value: unknown };
}

/** The reason after which a job is never restarted: somebody asked for its end. */
const FINAL = new Set(['cancelled']);

export interface JobRunnerDeps {
  readonly nodeId: string;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly functions: FunctionCache;
  readonly jobSupervisor: () => SupervisorClient;
  /** Sends an exit signal from the node to a local pid. */
  readonly kill: (pid: Pid, reason: ExitReason) => void;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}

/**
 * Runs one BullMQ job as an isolated process under the job supervisor and turns its exit into
 * the job's outcome: normal → completed with the return value; `shutdown` (the node is
 * draining) → handed back to the queue at once; `cancelled`, or any abnormal exit of a
 * `temporary` job → failed without retry; any other abnormal exit → failed and retried by
 * BullMQ's attempts and backoff, on whichever node takes it.
 */
export class JobRunner {
  /** Jobs taken by this node and not yet settled: job id → pid (undefined until the process exists). */
  readonly running = new Map<string, Pid | undefined>();
  /** Pids this node killed to hand their jobs back (draining); any other `shutdown` exit is abnormal. */
  private readonly handingBack = new Set<Pid>();
  /** Job processes by pid, with their job and tenant, for the signal guard and the heartbeat. */
  private readonly jobs = new Map<Pid, { readonly jobId: string; readonly tenant: string }>();
  private draining = false;
  private idleWaiters = new Set<() => void>();

  constructor(private readonly deps: JobRunnerDeps) {}

  /** The tenant of a job process of this node, or undefined for any other pid. */
  tenantOf(pid: Pid): string | undefined {
    return this.jobs.get(pid)?.tenant;
  }

  /** The job a process of this node runs, if it runs one. */
  jobOf(pid: Pid): { readonly jobId: string; readonly tenant: string } | undefined {
    return this.jobs.get(pid);
  }

  /** From now on, jobs that arrive are handed back at once instead of started. */
  stopTaking(): void {
    this.draining = true;
  }

  /** Kills the processes of the jobs still running and hands the jobs back to the queue. */
  handBackAll(kill: (pid: Pid) => void): number {
    let count = 0;
    for (const pid of this.running.values()) {
      if (pid === undefined) continue;
      this.handingBack.add(pid);
      kill(pid);
      count++;
    }
    return count;
  }

  /** Resolves when no job is in flight on this node, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  private settled(jobId: string, pid: Pid | undefined): void {
    this.running.delete(jobId);
    if (pid !== undefined) {
      this.handingBack.delete(pid);
      this.jobs.delete(pid);
    }
    if (this.running.size > 0) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }

  async run(job: Job<JobData>, token: string | undefined): Promise<unknown> {
    const jobId = job.id as string;
    this.running.set(jobId, undefined);
    let pid: Pid | undefined;
    try {
      if (this.draining) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const started = await this.start(job);
      pid = started.pid;
      return await this.settle(job, token, started);
    } finally {
      this.settled(jobId, pid);
    }
  }

  /** Starts the job's process under the job supervisor and records where it runs. */
  private async start(job: Job<JobData>): Promise<RunOfJob> {
    const { deps } = this;
    const data = job.data;
    const jobId = job.id as string;
    const label = `${data.function}@${data.version}`;
    const startedAt = Date.now();
    if (job.attemptsMade === 0) {
      const runnableSince = job.timestamp + (job.opts.delay ?? 0);
      deps.metrics.jobWait(data.function, (startedAt - runnableSince) / 1000);
    }
    const module = await deps.functions.get(data.sha256, label);
    const result: { value: unknown } = { value: undefined };
    let resolveExit: (reason: ExitReason) => void = () => undefined;
    const exited = new Promise<ExitReason>((resolve) => {
      resolveExit = resolve;
    });
    const launch: JobLaunch = {
      job,
      moduleSource: module,
      onResult: (value) => {
        result.value = value;
      },
      onExit: (reason) => resolveExit(reason),
      onProgress: (value) => {
        job.updateProgress(value as number | object).catch(() => undefined);
      },
      onUsage: (usage) => deps.metrics.jobCpu(data.function, usage.cpuTimeNs / 1e9),
      onLog: (entry) => {
        const line = typeof entry.message === 'string' ? entry.message : JSON.stringify(entry.message);
        deps.logger[entry.level]({ jobId, pid: entry.pid }, line);
        job.log(`[${entry.level}] ${line}`).catch(() => undefined);
      },
    };
    const started = await deps.jobSupervisor().startChild([launch]);
    if (!('pid' in started) || typeof started.pid !== 'string') {
      throw new Error(`The job supervisor could not start ${label}: ${JSON.stringify(started)}`);
    }
    const pid = started.pid;
    this.running.set(jobId, pid);
    this.jobs.set(pid, { jobId, tenant: data.tenant });
    const run: RunOfJob = { pid, exited, cancelRequested: false, startedAt, label, result };
    try {
      const entry: RunningJob = { pid, node: deps.nodeId, startedAt, attempt: job.attemptsMade + 1 };
      const marks = await deps.redis
        .multi()
        .hset(deps.keys.running, jobId, JSON.stringify(entry))
        .hset(deps.keys.pids, pid, JSON.stringify({ jobId, tenant: data.tenant, node: deps.nodeId }))
        .get(deps.keys.cancelRequested(jobId))
        .exec();
      if (marks?.[2]?.[1] === '1') {
        run.cancelRequested = true;
        deps.kill(pid, 'cancelled');
      }
    } catch (error) {
      deps.kill(pid, 'kill');
      await exited;
      throw error;
    }
    deps.logger.debug({ jobId, pid, function: label }, 'job started');
    return run;
  }

  /** Turns the process's exit into the job's outcome; the job counts as running until this is done. */
  private async settle(job: Job<JobData>, token: string | undefined, run: RunOfJob): Promise<unknown> {
    const { deps } = this;
    const { pid, exited, cancelRequested, startedAt, label, result } = run;
    const data = job.data;
    const jobId = job.id as string;
    const reason = await exited;
    const seconds = (Date.now() - startedAt) / 1000;
    deps.metrics.jobRun(data.function, seconds);
    const cancelled = cancelRequested && reason !== 'normal';
    const finalReason = cancelled ? 'cancelled' : reason;
    if (finalReason === 'normal') {
      await deps.redis
        .multi()
        .hdel(deps.keys.running, jobId)
        .hdel(deps.keys.pids, pid)
        .hdel(deps.keys.exits, jobId)
        .hincrby(deps.keys.backlog, data.tenant, -1)
        .exec();
      deps.metrics.jobCompleted(data.function);
      return result.value;
    }
    const exit = describeExit(finalReason);
    if (finalReason === 'shutdown' && this.handingBack.has(pid)) {
      await deps.redis.multi().hdel(deps.keys.running, jobId).hdel(deps.keys.pids, pid).exec();
      deps.metrics.jobHandedBack();
      deps.logger.info({ jobId, pid }, 'job handed back to the queue (node draining)');
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const retried =
      !FINAL.has(exit.reason) && data.restart === 'transient' && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    const ended = deps.redis
      .multi()
      .hdel(deps.keys.running, jobId)
      .hdel(deps.keys.pids, pid)
      .hset(deps.keys.exits, jobId, JSON.stringify(exit));
    await (retried ? ended : ended.hincrby(deps.keys.backlog, data.tenant, -1)).exec();
    deps.metrics.jobFailed(data.function, exit.reason, retried);
    deps.logger.warn({ jobId, pid, function: label, exit: exit.reason, retried }, exit.message);
    const where = `(attempt ${job.attemptsMade + 1}: pid ${pid} on node ${deps.nodeId})`;
    const error = retried ? new Error(`${exit.message} ${where}`) : new UnrecoverableError(`${exit.message} ${where}`);
    error.stack = `${exit.error?.stack ?? `${exit.reason}: ${exit.message}`}\n    ${where}`;
    throw error;
  }
}
