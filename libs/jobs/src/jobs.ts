import { createHash } from 'node:crypto';
import type { Pid } from '@beamline/runtime';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ControlPublisher } from './control.js';
import type { JobExit } from './exit-reason.js';
import { BUILTIN_TENANT, type Keys } from './keys.js';
import type { FunctionRegistry } from './registry.js';
import {
  BULLMQ_PRIORITY,
  describeIssues,
  type JobData,
  type JobSpec,
  jobSpecSchema,
  type Limits,
  tenantSchema,
} from './schemas.js';

export const DEFAULT_TENANT = 'default';

/** A submission that cannot be accepted; `field` names what was wrong (e.g. "function", "backoff.delayMs"). */
export class JobSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobSpecError';
  }
}

export interface RunningJob {
  readonly pid: Pid;
  readonly node: string;
  readonly startedAt: number;
  readonly attempt: number;
}

export type JobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed' | 'unknown';

export interface JobView {
  readonly id: string;
  readonly state: JobState;
  readonly function: string;
  readonly version: number;
  readonly tenant: string;
  readonly priority: string;
  readonly input: unknown;
  readonly attemptsMade: number;
  readonly attempts: number;
  readonly progress: unknown;
  readonly result: unknown;
  /** While the job's process runs: its pid and node. */
  readonly running: RunningJob | undefined;
  /** How its last run ended abnormally, when it did. */
  readonly exit: JobExit | undefined;
  readonly submittedAt: number;
  readonly requestHash: string | undefined;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
}

export type CancelOutcome = 'removed' | 'cancelling' | 'finished' | 'not_found';

/** Marks a cancel that arrived before the job's process started; the worker checks it at start. */
const CANCEL_MARK_TTL_S = 600;

/**
 * Submits, inspects, cancels and requeues jobs: what the API and tests do with the queue,
 * in one place with the workers' conventions.
 */
export class JobClient {
  constructor(
    readonly queue: Queue,
    private readonly registry: FunctionRegistry,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly control: ControlPublisher,
  ) {}

  /**
   * Validates and enqueues a job for `tenant` (who submits it: the API passes the tenant of the
   * authenticated key), pinned to the function version current now.
   */
  async submit(
    spec: JobSpec,
    tenant: string = DEFAULT_TENANT,
    submission: { readonly requestHash?: string } = {},
  ): Promise<Job<JobData>> {
    const prepared = await this.prepare(spec, tenant, submission);
    const added = await this.queue.add(prepared.name, prepared.data, prepared.opts);
    await this.record(tenant, [added]);
    return added;
  }

  /**
   * Validates every job first (a JobSpecError names `<index>.<field>`), then enqueues them all
   * with one addBulk: either all are accepted or none.
   */
  async submitMany(specs: readonly JobSpec[], tenant: string = DEFAULT_TENANT): Promise<Array<Job<JobData>>> {
    const prepared = [];
    for (const [index, spec] of specs.entries()) {
      try {
        prepared.push(await this.prepare(spec, tenant, {}));
      } catch (error) {
        if (!(error instanceof JobSpecError)) throw error;
        throw new JobSpecError(`${index}.${error.field}`, `jobs.${index}: ${error.message}`);
      }
    }
    const added = await this.queue.addBulk(prepared);
    await this.record(tenant, added);
    return added;
  }

  /**
   * Indexes jobs under their tenant and counts in its backlog only those not indexed before: a
   * replayed idempotency key (BullMQ returns the existing job) does not count twice.
   */
  private async record(tenant: string, added: ReadonlyArray<Job<JobData>>): Promise<number> {
    const index: Array<number | string> = added.flatMap((job) => [job.data.submittedAt, job.id as string]);
    const fresh = await this.redis.zadd(this.keys.tenantJobs(tenant), 'NX', ...index);
    if (Number(fresh) > 0) await this.redis.hincrby(this.keys.backlog, tenant, Number(fresh));
    return Number(fresh);
  }

  /** The BullMQ job a spec becomes: validated, its function resolved and pinned, defaults applied. */
  private async prepare(
    spec: JobSpec,
    tenant: string,
    submission: { readonly requestHash?: string },
  ): Promise<{ name: string; data: JobData; opts: JobsOptions }> {
    const validTenant = tenantSchema.safeParse(tenant);
    if (!validTenant.success || tenant === BUILTIN_TENANT) {
      throw new JobSpecError(
        'tenant',
        `tenant ${JSON.stringify(tenant)} cannot submit jobs: ${validTenant.success ? 'it is reserved' : describeIssues(validTenant.error)}.`,
      );
    }
    const parsed = jobSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new JobSpecError(first?.path.map(String).join('.') || '(root)', describeIssues(parsed.error));
    }
    const job = parsed.data;
    const fn = await this.registry.resolve(tenant, job.function);
    if (!fn) {
      throw new JobSpecError(
        'function',
        `function: no function "${job.function}" is deployed for tenant "${tenant}" (nor built in); deploy it first.`,
      );
    }
    const limits: Limits = {
      ...definedLimits(fn.defaults),
      ...definedLimits(job),
    };
    const priority = job.priority ?? fn.defaults.priority ?? 'normal';
    const attempts = job.attempts ?? fn.defaults.attempts ?? 3;
    const backoff = job.backoff ?? fn.defaults.backoff ?? { type: 'exponential' as const, delayMs: 1000 };
    const data: JobData = {
      function: fn.name,
      version: fn.version,
      sha256: fn.sha256,
      functionTenant: fn.tenant,
      tenant,
      input: job.input ?? null,
      limits,
      priority,
      restart: job.restart ?? 'transient',
      submittedAt: Date.now(),
      ...(submission.requestHash ? { requestHash: submission.requestHash } : {}),
    };
    const opts: JobsOptions = {
      attempts: job.restart === 'temporary' ? 1 : attempts,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: false,
      ...(BULLMQ_PRIORITY[priority] > 0 ? { priority: BULLMQ_PRIORITY[priority] } : {}),
      ...(job.delayMs ? { delay: job.delayMs } : {}),
      ...(job.idempotencyKey ? { jobId: idempotentJobId(tenant, job.idempotencyKey) } : {}),
    };
    return { name: fn.name, data, opts };
  }

  async get(jobId: string): Promise<JobView | undefined> {
    // The state and the job's hash are read separately: a job that moves between the two reads
    // would show a final state with the hash of before (no result). Read until they agree.
    let job: Job<JobData> | undefined;
    let state = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await this.queue.getJobState(jobId);
      job = (await this.queue.getJob(jobId)) as Job<JobData> | undefined;
      if (!job) return undefined;
      state = await job.getState();
      if (state === before) break;
    }
    if (!job) return undefined;
    const [running, exit] = await Promise.all([
      this.redis.hget(this.keys.running, jobId),
      this.redis.hget(this.keys.exits, jobId),
    ]);
    return {
      id: jobId,
      state: normaliseState(state),
      function: job.data.function,
      version: job.data.version,
      tenant: job.data.tenant,
      priority: job.data.priority,
      input: job.data.input,
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
      progress: job.progress,
      result: job.returnvalue,
      running: running ? (JSON.parse(running) as RunningJob) : undefined,
      exit: exit ? (JSON.parse(exit) as JobExit) : undefined,
      submittedAt: job.timestamp,
      requestHash: job.data.requestHash,
      startedAt: job.processedOn,
      finishedAt: job.finishedOn,
    };
  }

  /**
   * Cancels a job: one not yet started is removed; a running one is killed wherever it runs and
   * ends with reason `cancelled` (not retried); a finished one is left as it is.
   */
  async cancel(jobId: string, from: Pid): Promise<CancelOutcome> {
    const job = await this.queue.getJob(jobId);
    if (!job) return 'not_found';
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state !== 'active') {
      try {
        await job.remove();
        await this.redis.hincrby(this.keys.backlog, (job.data as JobData).tenant, -1);
        return 'removed';
      } catch {
        // Taken by a worker meanwhile: cancel it as a running job.
      }
    }
    await this.redis.set(this.keys.cancelRequested(jobId), '1', 'EX', CANCEL_MARK_TTL_S);
    const running = await this.redis.hget(this.keys.running, jobId);
    // Stamped with the job's own tenant: the cancel reaches that job's process and no other.
    if (running) {
      await this.control.exit((JSON.parse(running) as RunningJob).pid, from, 'cancelled', (job.data as JobData).tenant);
    }
    return 'cancelling';
  }

  /** Failed jobs (dead letters), most recently failed first. */
  async deadLetters(start = 0, end = 99): Promise<JobView[]> {
    const failed = await this.queue.getFailed(start, end);
    const views = await Promise.all(failed.map((job) => this.get(job.id as string)));
    return views.filter((view): view is JobView => view !== undefined);
  }

  /** Puts a dead letter back in the queue with its attempts reset. Returns false when it is not failed. */
  async requeue(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || (await job.getState()) !== 'failed') return false;
    try {
      // BullMQ moves it atomically: of concurrent requeues, one wins and the others fail here.
      await job.retry('failed', { resetAttemptsMade: true });
    } catch {
      return false;
    }
    await this.redis
      .multi()
      .hdel(this.keys.exits, jobId)
      .del(this.keys.cancelRequested(jobId))
      .hincrby(this.keys.backlog, (job.data as JobData).tenant, 1)
      .exec();
    return true;
  }
}

/** The limits that are set, without undefined entries (for exact optional types). */
export function definedLimits(source: Limits): { timeoutMs?: number; cpuMs?: number; memoryMb?: number } {
  return {
    ...(source.timeoutMs === undefined ? {} : { timeoutMs: source.timeoutMs }),
    ...(source.cpuMs === undefined ? {} : { cpuMs: source.cpuMs }),
    ...(source.memoryMb === undefined ? {} : { memoryMb: source.memoryMb }),
  };
}

/** A BullMQ job id derived from tenant and idempotency key: the same key gives the same job. */
export function idempotentJobId(tenant: string, key: string): string {
  return `idem-${createHash('sha256').update(`${tenant}\u0000${key}`).digest('hex').slice(0, 32)}`;
}

function normaliseState(state: string): JobState {
  const known: JobState[] = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'];
  return known.includes(state as JobState) ? (state as JobState) : state === 'wait' ? 'waiting' : 'unknown';
}
