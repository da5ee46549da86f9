import {
  boundedJson,
  definedLimits,
  describeExit,
  encodeExit,
  type JobData,
  type JobExit,
  type JobStore,
} from '@beamline/jobs';
import type { ExitReason, LogEntry, Pid, ProcessLimits, SupervisorClient } from '@beamline/runtime';
import { DelayedError, type Job, UnrecoverableError, WaitingError } from 'bullmq';
import type { Logger } from 'pino';
import { Admission, type AdmissionStore } from './admission.js';
import type { TenantLimits } from './config.js';
import type { FunctionCache } from './function-cache.js';
import { DEFAULT_OUTPUT_LIMITS, JobOutput, type OutputLimits } from './job-output.js';
import type { WorkerMetrics } from './metrics.js';
import { RestBudget } from './rest-budget.js';

/** What the job supervisor's start function needs to spawn a job's process. */
export interface JobLaunch {
  readonly job: Job<JobData>;
  /** The job's tenant: the security domain of its process (warm environments are never shared between domains). */
  readonly tenant: string;
  /** The limits of this run: the job's, else its function's, else the platform's defaults. */
  readonly limits: ProcessLimits;
  readonly moduleSource: { readonly id: string; readonly source: string };
  readonly onResult: (value: unknown) => void;
  readonly onExit: (reason: ExitReason) => void;
  /**
   * Called by the start function as soon as the process exists, before it can run a line: from
   * then on the runner knows the pid's tenant (the signal guard refuses pids it does not know).
   */
  readonly onSpawned: (pid: Pid) => void;
  readonly onProgress: (value: unknown) => void;
  readonly onLog: (entry: LogEntry) => void;
  readonly onUsage: (usage: { readonly cpuTimeNs: number }) => void;
}

/** One run of a job: its process and what the runner learns of it. */
interface RunOfJob {
  readonly pid: Pid;
  readonly tenant: string;
  /** BullMQ's attemptsStarted of this run: a cancel names the attempt it meant. */
  readonly attempt: number;
  readonly exited: Promise<ExitReason>;
  cancelRequested: boolean;
  readonly startedAt: number;
  readonly label: string;
  readonly result: { value: unknown };
  readonly output: JobOutput;
}

/** The platform's limits on jobs (from the configuration). */
export interface JobPolicy {
  /** Wall-clock limit when neither the job nor its function sets one (a tenant's own default wins). */
  readonly defaultTimeoutMs: number;
  /** Memory limit when neither the job nor its function sets one. */
  readonly defaultMemoryMb: number;
  /** The most memory a run may have, whatever the job asks: a job may not take a node's memory. */
  readonly maxMemoryMb: number;
  /** Jobs of one tenant running at once on this node (a tenant's own figure wins). */
  readonly tenantMaxRunningPerNode: number;
  readonly tenantLimits: Readonly<Record<string, TenantLimits>>;
}

/** The limits of a run: what the job (or its function, at submission) set, else the platform's defaults. */
export function effectiveLimits(data: JobData, policy: JobPolicy): ProcessLimits {
  const set = definedLimits(data.limits ?? {});
  const tenant = Object.hasOwn(policy.tenantLimits, data.tenant) ? policy.tenantLimits[data.tenant] : undefined;
  return {
    ...set,
    timeoutMs: set.timeoutMs ?? tenant?.timeoutMs ?? policy.defaultTimeoutMs,
    memoryMb: Math.min(set.memoryMb ?? policy.defaultMemoryMb, policy.maxMemoryMb),
  };
}

/** The largest result a job may return, as JSON (BullMQ keeps it in Redis and the API sends it). */
export const MAX_RESULT_JSON_BYTES = 16 * 1024 * 1024;

/**
 * `normal` when the result can be kept, else the error that fails the run: job code chooses the
 * value, and some are a few bytes on the wire but gigabytes as JSON (sparse and typed arrays).
 */
function resultOrError(value: unknown): ExitReason {
  let fits = false;
  try {
    fits = boundedJson(value, MAX_RESULT_JSON_BYTES).fits;
  } catch (error) {
    return { error: new TypeError(`The result is not JSON data (${(error as Error).message}); return plain data.`) };
  }
  if (fits) return 'normal';
  return {
    error: new RangeError(
      `The result, written out as JSON, is over ${MAX_RESULT_JSON_BYTES / 1024 / 1024} MiB; return less (store large output elsewhere and return a reference).`,
    ),
  };
}

/**
 * `cancelled` is the platform's word for a run somebody cancelled: a job that exits with that
 * reason itself (ctx.exit('cancelled')) ends as `other`, retried like any abnormal end.
 */
function ownCancelAsOther(exit: JobExit, cancelledByRequest: boolean): JobExit {
  if (exit.reason !== 'cancelled' || cancelledByRequest) return exit;
  return {
    ...exit,
    reason: 'other',
    message: 'the process exited with reason "cancelled" (cancel a job through the API)',
  };
}

/** How many jobs of `tenant` may run at once on one node. */
export function maxRunningOf(tenant: string, policy: JobPolicy): number {
  const own = Object.hasOwn(policy.tenantLimits, tenant) ? policy.tenantLimits[tenant]?.maxRunningPerNode : undefined;
  return own ?? policy.tenantMaxRunningPerNode;
}

/** How long a throttled job waits before it can be taken again (ms; jittered so retakes spread out). */
const THROTTLE_DELAY_MS = 250;
/**
 * How long a slot rests after putting a job back, before it takes another, once the node's
 * budget of immediate retakes is spent (RestBudget): when the queue is full of one capped
 * tenant's jobs, each free slot puts back at most a few jobs a second instead of spinning through
 * the queue at Redis speed.
 */
const THROTTLE_PAUSE_MS = 100;
/** Jobs a node's slots may put back a second and take their next at once (fair queuing puts another tenant's job right behind). */
const IMMEDIATE_RETAKES_PER_SECOND = 50;

/** How long the tenant of an ended job process is remembered for stamping its last signals (ms). */
const ENDED_TENANT_TTL_MS = 60_000;
const ENDED_TENANTS_MAX = 10_000;

/** The reason after which a job is never restarted: somebody asked for its end. */
const FINAL = new Set(['cancelled']);

/** Cancels for jobs this node has not taken yet (the message can overtake BullMQ's reply): kept this long, at most this many. */
const EARLY_CANCEL_TTL_MS = 60_000;
const EARLY_CANCELS_MAX = 10_000;

export interface JobRunnerDeps {
  readonly nodeId: string;
  /** Where the job's log lines go, and the step that admits a run under its limits on starting (ADR 0016). */
  readonly store: Pick<JobStore, 'appendLogs'> & AdmissionStore;
  readonly functions: FunctionCache;
  readonly jobSupervisor: () => SupervisorClient;
  /** Sends an exit signal from the node to a local pid. */
  readonly kill: (pid: Pid, reason: ExitReason) => void;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  readonly policy: JobPolicy;
  readonly outputLimits?: OutputLimits;
  /** Called as a job's process starts (the heartbeat tells the API where it runs a moment later). */
  readonly onStarted?: () => void;
  /** Called once a job's run is settled, with its process (job trees forget what the run waited for). */
  readonly onSettled?: (pid: Pid) => void;
}

/**
 * Runs one BullMQ job as an isolated process under the job supervisor and turns its exit into
 * the job's outcome: normal → completed with the return value; `shutdown` sent by this node
 * because it is draining (and only that) → handed back to the queue at once, no attempt used;
 * `cancelled`, or any abnormal exit of a `temporary` job → failed without retry; any other
 * abnormal exit, `shutdown` from anywhere else included (job code calling ctx.exit('shutdown'),
 * a signal from another process) → failed and retried by BullMQ's attempts and backoff, on
 * whichever node takes it. A job whose tenant already has its maximum running on this node is
 * put back (delayed a moment) without using an attempt, as is a job over its function's or its
 * key's concurrency or rate, or of a paused function (ADR 0016).
 */
export class JobRunner {
  /** Jobs taken by this node and not yet settled: job id → pid (undefined until the process exists). */
  readonly running = new Map<string, Pid | undefined>();
  /** Pids this node killed to hand their jobs back (draining); any other `shutdown` exit is abnormal. */
  private readonly handingBack = new Set<Pid>();
  /** Job processes by pid, with their job and tenant, for the signal guard and the heartbeat. */
  private readonly jobs = new Map<Pid, { readonly jobId: string; readonly tenant: string }>();
  /** Tenants of job processes that ended recently, for the exit signals they send as they end. */
  private readonly endedTenants = new Map<Pid, { readonly tenant: string; readonly at: number }>();
  /** Jobs taken by this node and not yet settled, per tenant (for the per-tenant cap). */
  private readonly runningByTenant = new Map<string, number>();
  /** The runs of this node's jobs by job id, once their process exists. */
  private readonly runs = new Map<string, RunOfJob>();
  /** Cancels that arrived before their job reached this node: job id → tenant and when. */
  private readonly earlyCancels = new Map<
    string,
    { readonly tenant: string; readonly attempt: number | undefined; readonly at: number }
  >();
  private draining = false;
  private idleWaiters = new Set<() => void>();
  private readonly admission: Admission;
  private readonly retakes = new RestBudget(IMMEDIATE_RETAKES_PER_SECOND);

  constructor(private readonly deps: JobRunnerDeps) {
    this.admission = new Admission(deps.store);
  }

  /**
   * The tenant to stamp on a control message a process of this node sends to another node: its
   * job's tenant while it runs, and for a short while after it ended (the exit signals to its
   * links and monitors go out as it ends). Undefined for the node's own processes.
   */
  senderTenantOf(pid: Pid): string | undefined {
    const live = this.jobs.get(pid)?.tenant;
    if (live !== undefined) return live;
    const ended = this.endedTenants.get(pid);
    if (ended === undefined) return undefined;
    if (Date.now() - ended.at > ENDED_TENANT_TTL_MS) {
      this.endedTenants.delete(pid);
      return undefined;
    }
    return ended.tenant;
  }

  /** Jobs of `tenant` taken by this node and not settled. */
  runningOf(tenant: string): number {
    return this.runningByTenant.get(tenant) ?? 0;
  }

  /** The job a process of this node runs, if it runs one. */
  jobOf(pid: Pid): { readonly jobId: string; readonly tenant: string } | undefined {
    return this.jobs.get(pid);
  }

  /** The pid of a job this node runs. */
  pidOf(jobId: string): Pid | undefined {
    return this.running.get(jobId);
  }

  /**
   * Cancels a job of `tenant` that this node runs (the job store routed the cancel here): its
   * process is killed and the job ends as `cancelled`. A cancel for a job not here yet is kept a
   * while, for the job that BullMQ is handing to this node. Returns false for another tenant's job.
   */
  cancel(jobId: string, tenant: string, attempt: number | undefined): boolean {
    const run = this.runs.get(jobId);
    if (run) {
      if (run.tenant !== tenant) return false;
      // A cancel of an earlier attempt (a repeated DELETE that arrived late) leaves this one alone.
      if (attempt !== undefined && attempt !== run.attempt) return true;
      run.cancelRequested = true;
      // `kill`, not `cancelled`: job code may trap exit signals, but not this one.
      this.deps.kill(run.pid, 'kill');
      return true;
    }
    // Not started here yet (the message can overtake BullMQ's reply): start() finds it.
    this.rememberCancel(jobId, tenant, attempt);
    return true;
  }

  private rememberCancel(jobId: string, tenant: string, attempt: number | undefined): void {
    if (this.earlyCancels.size >= EARLY_CANCELS_MAX) {
      const oldest = this.earlyCancels.keys().next();
      if (!oldest.done) this.earlyCancels.delete(oldest.value);
    }
    this.earlyCancels.set(jobId, { tenant, attempt, at: Date.now() });
  }

  /** Whether a cancel for this attempt of this job of `tenant` arrived before it started here (and forgets it). */
  private takeEarlyCancel(jobId: string, tenant: string, attempt: number): boolean {
    const early = this.earlyCancels.get(jobId);
    if (!early) return false;
    this.earlyCancels.delete(jobId);
    const sameAttempt = early.attempt === undefined || early.attempt === attempt;
    return early.tenant === tenant && sameAttempt && Date.now() - early.at <= EARLY_CANCEL_TTL_MS;
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

  private settled(jobId: string, tenant: string): void {
    const pid = this.running.get(jobId);
    this.running.delete(jobId);
    this.runs.delete(jobId);
    const count = (this.runningByTenant.get(tenant) ?? 1) - 1;
    if (count > 0) this.runningByTenant.set(tenant, count);
    else this.runningByTenant.delete(tenant);
    if (pid !== undefined) {
      this.handingBack.delete(pid);
      this.jobs.delete(pid);
      this.rememberEnded(pid, tenant);
      this.deps.onSettled?.(pid);
    }
    if (this.running.size > 0) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }

  private rememberEnded(pid: Pid, tenant: string): void {
    if (this.endedTenants.size >= ENDED_TENANTS_MAX) {
      const oldest = this.endedTenants.keys().next();
      if (!oldest.done) this.endedTenants.delete(oldest.value);
    }
    this.endedTenants.set(pid, { tenant, at: Date.now() });
  }

  /** After putting a job back: the slot takes its next job at once while the node's budget lasts, else rests. */
  private async restIfSpinning(): Promise<void> {
    if (this.retakes.shouldRest()) await new Promise((resolve) => setTimeout(resolve, THROTTLE_PAUSE_MS));
  }

  async run(job: Job<JobData>, token: string | undefined): Promise<unknown> {
    const jobId = job.id as string;
    const tenant = job.data.tenant;
    if (job.data.cancelled) {
      // Cancelled while it ran on a node that then stopped, or a schedule's run skipped because
      // its tenant's backlog was full: it ends here, before any throttle. Put back while the
      // tenant had its most jobs running, a skipped run stayed open (in the backlog) for good, and
      // its schedule went on adding more past the cap.
      this.earlyCancels.delete(jobId);
      throw new UnrecoverableError(encodeExit(describeExit('cancelled')));
    }
    if (!this.draining && this.runningOf(tenant) >= maxRunningOf(tenant, this.deps.policy)) {
      // The tenant has its maximum running here: back to the queue without using an attempt.
      await job.moveToDelayed(Date.now() + THROTTLE_DELAY_MS + Math.floor(Math.random() * THROTTLE_DELAY_MS), token);
      this.deps.metrics.tenantThrottled();
      await this.restIfSpinning();
      throw new DelayedError();
    }
    this.running.set(jobId, undefined);
    this.runningByTenant.set(tenant, this.runningOf(tenant) + 1);
    try {
      if (this.draining) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const verdict = await this.admission.admit(job, token);
      if (verdict !== undefined && !verdict.admitted) {
        this.deps.logger.debug({ jobId, reason: verdict.reason, delayMs: verdict.delayMs }, 'job put back (limit)');
        await this.restIfSpinning();
        throw new DelayedError();
      }
      const started = await this.start(job);
      return await this.settle(job, token, started);
    } finally {
      this.settled(jobId, tenant);
    }
  }

  /** Where the job's output goes: its log in the job store (one write per batch), its progress, and the node's debug log. */
  private outputOf(job: Job<JobData>, jobId: string): JobOutput {
    const { deps } = this;
    const debug = deps.logger.isLevelEnabled('debug');
    return new JobOutput(
      {
        appendLogs: (lines) => deps.store.appendLogs(jobId, lines),
        setProgress: (value) => job.updateProgress(value),
        // Job text reaches the node's log only at debug level and only as a JSON field, so it
        // cannot forge a log line of its own.
        ...(debug
          ? { onLine: (level: string, line: string) => deps.logger.debug({ jobId, jobLevel: level, line }, 'job log') }
          : {}),
        onDropped: (kind, count) => deps.metrics.outputDroppedBy(kind, count),
      },
      deps.outputLimits ?? DEFAULT_OUTPUT_LIMITS,
    );
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
      deps.metrics.jobWait(data.tenant, data.function, (startedAt - runnableSince) / 1000);
    }
    const module = await deps.functions.get(data.sha256, label);
    const result: { value: unknown } = { value: undefined };
    let resolveExit: (reason: ExitReason) => void = () => undefined;
    const exited = new Promise<ExitReason>((resolve) => {
      resolveExit = resolve;
    });
    const output = this.outputOf(job, jobId);
    const asked = data.limits?.memoryMb;
    if (asked !== undefined && asked > deps.policy.maxMemoryMb) {
      output.log(
        'warn',
        `memoryMb ${asked} is over this node's maximum (MAX_JOB_MEMORY_MB); the run has ${deps.policy.maxMemoryMb} MB`,
      );
    }
    const launch: JobLaunch = {
      job,
      tenant: data.tenant,
      limits: effectiveLimits(data, deps.policy),
      moduleSource: module,
      onResult: (value) => {
        result.value = value;
      },
      onExit: (reason) => resolveExit(reason),
      onSpawned: (pid) => {
        this.running.set(jobId, pid);
        this.jobs.set(pid, { jobId, tenant: data.tenant });
      },
      onProgress: (value) => output.progress(value),
      onUsage: (usage) => deps.metrics.jobCpu(data.tenant, data.function, usage.cpuTimeNs / 1e9),
      onLog: (entry) => output.log(entry.level, entry.message),
    };
    let started: Awaited<ReturnType<SupervisorClient['startChild']>>;
    try {
      started = await deps.jobSupervisor().startChild([launch]);
    } catch (error) {
      void output.close();
      throw error;
    }
    if (!('pid' in started) || typeof started.pid !== 'string') {
      void output.close();
      throw new Error(`The job supervisor could not start ${label}: ${JSON.stringify(started)}`);
    }
    const pid = started.pid;
    const run: RunOfJob = {
      pid,
      tenant: data.tenant,
      attempt: job.attemptsStarted,
      exited,
      cancelRequested: false,
      startedAt,
      label,
      result,
      output,
    };
    this.runs.set(jobId, run);
    this.deps.onStarted?.();
    if (this.takeEarlyCancel(jobId, data.tenant, run.attempt)) {
      run.cancelRequested = true;
      deps.kill(pid, 'kill');
    }
    deps.logger.debug({ jobId, pid, function: label }, 'job started');
    return run;
  }

  /** Turns the process's exit into the job's outcome; the job counts as running until this is done. */
  private async settle(job: Job<JobData>, token: string | undefined, run: RunOfJob): Promise<unknown> {
    const { deps } = this;
    const { pid, exited, startedAt, label, result, output } = run;
    const data = job.data;
    const jobId = job.id as string;
    const reason = await exited;
    // Read after the exit: a cancel may have arrived while the run went on.
    const { cancelRequested } = run;
    // The job's log and last progress are written before its outcome is.
    await output.close();
    const seconds = (Date.now() - startedAt) / 1000;
    deps.metrics.jobRun(data.tenant, data.function, seconds);
    const cancelled = cancelRequested && reason !== 'normal';
    const finalReason = cancelled ? 'cancelled' : reason === 'normal' ? resultOrError(result.value) : reason;
    if (finalReason === 'normal') {
      deps.metrics.jobCompleted(data.tenant, data.function);
      return result.value;
    }
    const exit = ownCancelAsOther(describeExit(finalReason), cancelled);
    if (finalReason === 'shutdown' && this.handingBack.has(pid)) {
      deps.metrics.jobHandedBack();
      deps.logger.info({ jobId, pid }, 'job handed back to the queue (node draining)');
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const retried =
      !FINAL.has(exit.reason) && data.restart === 'transient' && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    deps.metrics.jobFailed(data.tenant, data.function, exit.reason, retried);
    deps.logger.warn({ jobId, pid, function: label, exit: exit.reason, retried }, exit.message);
    // BullMQ writes the error's message (the exit, encoded) and stack in the step that ends or retries the run.
    const message = encodeExit(exit);
    const where = `(attempt ${job.attemptsMade + 1}: pid ${pid} on node ${deps.nodeId})`;
    const error = retried ? new Error(message) : new UnrecoverableError(message);
    error.stack = `${exit.error?.stack ?? message}\n    ${where}`;
    throw error;
  }
}
