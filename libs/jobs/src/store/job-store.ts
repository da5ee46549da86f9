import { createHash } from 'node:crypto';
import { Job, type JobsOptions, Queue } from 'bullmq';
import type { ControlPublisher } from '../control.js';
import { decodeExit, type JobExit } from '../exit-reason.js';
import { BUILTIN_TENANT, type Keys, QUEUE_NAME } from '../keys.js';
import type { DeployedFunction, FunctionRegistry } from '../registry.js';
import {
  BULLMQ_PRIORITY,
  describeIssues,
  FAIR_BULLMQ_PRIORITY,
  type JobData,
  type JobSpec,
  jobSpecSchema,
  type Limits,
  parseFunctionRef,
  tenantSchema,
  type ValidJobSpec,
} from '../schemas.js';
import { ADMIT_KEYS, type AdmitVerdict, admissionOf, admitCall, pausedFunctionsKey, verdictOf } from './admission.js';
import { type JobState, jobStateOf } from './job-state.js';
import { type RedisClient, type StoreCommands, withStoreCommands } from './scripts.js';

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

/** The tenant's backlog (jobs submitted and not yet ended) has no room for the submission. */
export class BacklogFullError extends Error {
  constructor(
    readonly tenant: string,
    readonly backlog: number,
    readonly cap: number,
  ) {
    super(`Tenant ${tenant} has ${backlog} jobs not yet ended; the cap is ${cap}. Retry later.`);
    this.name = 'BacklogFullError';
  }
}

/** A job as the store reads it: one state from the one vocabulary, and how its last run ended. */
export interface JobView {
  readonly id: string;
  readonly state: JobState;
  readonly tenant: string;
  readonly function: string;
  readonly version: number;
  readonly priority: string;
  readonly input: unknown;
  readonly attemptsMade: number;
  readonly attempts: number;
  readonly progress: unknown;
  readonly result: unknown;
  /** The node that took it last (BullMQ's processedBy), while it runs and after. */
  readonly node: string | undefined;
  /** How its last run ended abnormally, when it did. */
  readonly exit: JobExit | undefined;
  readonly submittedAt: number;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  /** For a job started by a job (ADR 0013): its parent and how it is tied to it. */
  readonly parent?: { readonly id: string; readonly relation: ChildRelation };
  /** For a job that started jobs: how many, and the ids of the first ones when they were asked for. */
  readonly children?: { readonly total: number; readonly ids?: readonly string[] };
  /** For a run of a schedule: the schedule's id (its BullMQ scheduler is "<tenant>~<id>"). */
  readonly schedule?: string;
}

/** A job started by a job (ctx.startJob) could not be: its parent may have no more children, or none deeper. */
export class ChildJobError extends Error {
  constructor(
    readonly code: 'no_parent' | 'children_full' | 'too_deep' | 'busy',
    message: string,
  ) {
    super(message);
    this.name = 'ChildJobError';
  }
}

/** How a child job is tied to its parent (ADR 0013): its failure kills the parent, its end is a message, or neither. */
export type ChildRelation = 'link' | 'monitor' | 'none';

/** What the submit step checks and records for a job started by a job. */
export interface ParentOfChild {
  readonly jobId: string;
  readonly relation: ChildRelation;
  /** Children one parent may have in all (ended ones count). */
  readonly maxChildren: number;
  /** How deep a tree may grow: a job submitted over the API is at depth 0. */
  readonly maxDepth: number;
}

export type CancelOutcome = 'removed' | 'cancelling' | 'finished' | 'not_found';

export interface Submitted {
  readonly job: JobView;
  /** The idempotency key named a job submitted before: `job` is that job, nothing was added. */
  readonly replayed: boolean;
  /** For a replay: whether the earlier request had the same body (same request hash). */
  readonly sameRequest: boolean;
}

export interface JobListQuery {
  readonly state?: JobState | undefined;
  readonly function?: string | undefined;
  /** From a previous page's nextCursor. */
  readonly cursor?: number | undefined;
  readonly limit: number;
}

export interface JobStoreOptions {
  /** Jobs a tenant may have not yet ended (default: no cap). */
  readonly backlogCap?: number;
  /** Completed jobs (and their idempotency keys) are kept this long, in seconds (default 24 h). */
  readonly keepCompletedS?: number;
}

/** A function check the submit script makes: key, hash field ('' = existence), expected value ('' = none, '*' = exists). */
type Check = readonly [key: string, field: string, expected: string];

/** What BullMQ's add of one job would send: its script, keys and arguments. */
interface PreparedJob {
  readonly data: JobData;
  readonly opts: JobsOptions;
  readonly adder: string;
  readonly keys: readonly string[];
  readonly args: readonly [Buffer | string, string, Buffer | string];
  readonly customId: string;
}

type SubmitOutcome =
  | { readonly kind: 'added'; readonly ids: string[]; readonly jobs: readonly PreparedJob[] }
  | { readonly kind: 'replay'; readonly id: string; readonly requestHash: string };

const ADD_KEY_COUNTS: Readonly<Record<string, number>> = {
  addStandardJob: 9,
  addPrioritizedJob: 9,
  addDelayedJob: 6,
};

/** The children's ids a job's view lists at most (the rest are paged with `children`). */
export const CHILD_IDS_SHOWN = 100;

/** Attempts to submit when a function changes between its resolution and the submit script. */
const STALE_RETRIES = 3;
/** Jobs BullMQ added back that one step moves into their tenants' streams (ADR 0017). */
export const REQUEUE_PER_STEP = 200;

/**
 * The one owner of job state in Redis: BullMQ's queue and, beside it under the same hash tag,
 * each tenant's index and open set. Every state change a user can observe is one atomic step
 * (commands/*.lua, each wrapping BullMQ's own script where BullMQ has one). The API and the
 * workers read and change jobs only through it; workers run BullMQ's Worker on a connection
 * from `JobStore.connection`, which carries the store's versions of the steps that end a job.
 */
export class JobStore {
  readonly queue: Queue;
  private readonly redis: RedisClient & StoreCommands;
  private readonly backlogCap: number;
  private readonly keepCompletedS: number;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly registry: FunctionRegistry,
    private readonly control: ControlPublisher,
    options: JobStoreOptions = {},
  ) {
    this.redis = withStoreCommands(redis);
    this.queue = new Queue(QUEUE_NAME, { connection: this.redis, prefix: keys.prefix });
    this.backlogCap = options.backlogCap ?? Number.MAX_SAFE_INTEGER;
    this.keepCompletedS = options.keepCompletedS ?? 24 * 3600;
  }

  /** A connection for BullMQ (Worker, Queue) that runs the store's versions of BullMQ's ending steps. */
  static connection<T extends RedisClient>(client: T): T {
    return withStoreCommands(client);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  /** Validates and submits one job (see submitValid). */
  async submit(spec: JobSpec, tenant: string = DEFAULT_TENANT, idempotencyKey?: string): Promise<Submitted> {
    return this.submitValid(parseSpec(spec), tenant, idempotencyKey);
  }

  /**
   * Submits one job for `tenant`, pinned to its function's version current now, in one atomic
   * step with its idempotency check, its tenant's index and backlog cap. With an idempotency key
   * that named a job before, nothing is added: that job is returned (`replayed`).
   */
  async submitValid(spec: ValidJobSpec, tenant: string, idempotencyKey = spec.idempotencyKey): Promise<Submitted> {
    const requestHash = idempotencyKey === undefined ? '' : hashOf(spec);
    const outcome = await this.submitAtomically([spec], tenant, idempotencyKey, requestHash);
    if (outcome.kind === 'replay') {
      const job = await this.get(outcome.id);
      if (!job) return this.submitValid(spec, tenant, idempotencyKey); // expired meanwhile: a fresh job
      return { job, replayed: true, sameRequest: outcome.requestHash === '' || outcome.requestHash === requestHash };
    }
    return {
      job: justSubmitted(outcome.ids[0] as string, outcome.jobs[0] as PreparedJob),
      replayed: false,
      sameRequest: true,
    };
  }

  /** Validates every job (a JobSpecError names `<index>.<field>`), then submits all in one atomic step, or none. */
  async submitMany(specs: readonly JobSpec[], tenant: string = DEFAULT_TENANT): Promise<JobView[]> {
    const valid = specs.map((spec, index) => {
      try {
        return parseSpec(spec);
      } catch (error) {
        if (!(error instanceof JobSpecError)) throw error;
        throw new JobSpecError(`${index}.${error.field}`, `jobs.${index}: ${error.message}`);
      }
    });
    return this.submitManyValid(valid, tenant);
  }

  async submitManyValid(specs: readonly ValidJobSpec[], tenant: string): Promise<JobView[]> {
    const outcome = await this.submitAtomically(specs, tenant, undefined, '');
    if (outcome.kind !== 'added') throw new Error('A batch cannot replay an idempotency key');
    return outcome.ids.map((id, i) => justSubmitted(id, outcome.jobs[i] as PreparedJob));
  }

  /**
   * Submits a child job of `parent` (a job of `tenant` not yet ended), in one atomic step with the
   * record of the tie: refused with a ChildJobError when the parent has its most children or the
   * child would be too deep, with a BacklogFullError when the tenant's backlog is full. With an
   * idempotency key that named a job before, that job is returned (a retried parent meets the
   * children its earlier run started).
   */
  async submitChild(
    spec: ValidJobSpec,
    tenant: string,
    parent: ParentOfChild,
    idempotencyKey: string | undefined,
  ): Promise<Submitted> {
    const requestHash = idempotencyKey === undefined ? '' : hashOf(spec);
    const outcome = await this.submitAtomically([spec], tenant, idempotencyKey, requestHash, parent);
    if (outcome.kind === 'replay') {
      const job = await this.get(outcome.id, tenant);
      if (!job) return this.submitChild(spec, tenant, parent, idempotencyKey);
      return { job, replayed: true, sameRequest: outcome.requestHash === '' || outcome.requestHash === requestHash };
    }
    const job = justSubmitted(outcome.ids[0] as string, outcome.jobs[0] as PreparedJob);
    return {
      job: { ...job, parent: { id: parent.jobId, relation: parent.relation } },
      replayed: false,
      sameRequest: true,
    };
  }

  /** Ids of the children of `parentId` that ended, in the order they ended, from position `from` on (ADR 0013). */
  async childEnds(parentId: string, from: number): Promise<string[]> {
    return this.redis.lrange(this.treeEnds(parentId), from, -1);
  }

  /** A page of the children of a tenant's job, first started first; undefined when it is no job of `tenant`. */
  async children(
    tenant: string,
    parentId: string,
    offset: number,
    limit: number,
  ): Promise<{ ids: string[]; total: number } | undefined> {
    const replies = await this.redis
      .multi()
      .hget(`${this.keys.queue}${parentId}`, 'tn')
      .zrange(this.tree(parentId), offset, offset + limit - 1)
      .zcard(this.tree(parentId))
      .exec();
    const [owner, ids, total] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    if (owner !== tenant) return undefined;
    return { ids: ids as string[], total: total as number };
  }

  /**
   * Takes queued cascades of cancellation (ADR 0013) up to `parents` parents further, one step per
   * parent; resolves to how many are left. Worker nodes call it while any are queued.
   */
  async continueCascades(parents = 1): Promise<number> {
    let left = 0;
    for (let i = 0; i < parents; i++) {
      left = Number(await this.redis.beamlineCascade(1, `${this.keys.queue}bl:cascade`, this.keys.queue, 1));
      if (left === 0) break;
    }
    return left;
  }

  /**
   * How many failed jobs (dead letters, cancelled jobs, skipped schedule runs) each tenant keeps:
   * as one more fails, its oldest beyond this are removed, never another tenant's. Default 10,000.
   */
  async keepFailedPerTenant(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`keepFailedPerTenant must be a whole number from 1 up; got ${count}.`);
    }
    await this.redis.hset(this.keys.storeConfig, 'failedKeptPerTenant', count);
  }

  /**
   * How many bytes of completed jobs (their hash, result included, and their log, as Redis counts
   * them) each tenant keeps: as one more completes, its oldest beyond this are removed, never
   * another tenant's. Default 256 MiB.
   */
  async keepCompletedBytesPerTenant(bytes: number): Promise<void> {
    if (!Number.isInteger(bytes) || bytes < 1) {
      throw new RangeError(`keepCompletedBytesPerTenant must be a whole number of bytes from 1 up; got ${bytes}.`);
    }
    await this.redis.hset(this.keys.storeConfig, 'completedBytesPerTenant', bytes);
  }

  /**
   * Moves up to `most` of the jobs BullMQ added back (retries, delays coming due, stalled,
   * put-back and unparked jobs), which wait behind every job queued fairly, into their tenants'
   * streams of the fair queue (ADR 0017); resolves to how many it moved. Worker nodes call it
   * every few hundred ms.
   */
  async requeueAddedBack(most = REQUEUE_PER_STEP): Promise<number> {
    const q = this.queue.keys;
    return Number(
      await this.redis.beamlineRequeueAddedBack(2, q.prioritized as string, q.pc as string, this.keys.queue, most),
    );
  }

  private tree(parentId: string): string {
    return `${this.keys.queue}bl:tree:${parentId}`;
  }

  private treeEnds(parentId: string): string {
    return `${this.keys.queue}bl:ends:${parentId}`;
  }

  private async submitAtomically(
    specs: readonly ValidJobSpec[],
    tenant: string,
    idempotencyKey: string | undefined,
    requestHash: string,
    parent?: ParentOfChild,
  ): Promise<SubmitOutcome> {
    checkTenant(tenant);
    for (let attempt = 1; ; attempt++) {
      const resolved = await Promise.all(
        specs.map((spec, index) => this.resolve(spec, tenant, specs.length > 1 ? index : undefined)),
      );
      const submittedAt = Date.now();
      const jobs = await Promise.all(
        specs.map((spec, i) =>
          this.prepare(spec, resolved[i] as DeployedFunction, tenant, submittedAt, idempotencyKey),
        ),
      );
      const checks = uniqueChecks(
        specs.flatMap((spec, i) => this.checksOf(spec, resolved[i] as DeployedFunction, tenant)),
      );
      const reply = await this.runSubmit(jobs, checks, tenant, submittedAt, requestHash, parent);
      switch (reply[0]) {
        case 'no_parent':
          throw new ChildJobError('no_parent', `Job ${parent?.jobId} is no open job of tenant ${tenant}.`);
        case 'children_full':
          throw new ChildJobError(
            'children_full',
            `Job ${parent?.jobId} has started ${reply[1]} jobs; a job may start at most ${parent?.maxChildren}.`,
          );
        case 'too_deep':
          throw new ChildJobError(
            'too_deep',
            `A job started by job ${parent?.jobId} would be ${reply[1]} levels deep; job trees may be at most ${parent?.maxDepth} deep.`,
          );
        case 'ok':
          return { kind: 'added', ids: reply.slice(1) as string[], jobs };
        case 'replay':
          return { kind: 'replay', id: reply[1] as string, requestHash: reply[2] as string };
        case 'full':
          throw new BacklogFullError(tenant, Number(reply[1]), this.backlogCap);
        case 'stale':
          for (const spec of specs) this.registry.forget(tenant, spec.function);
          if (attempt >= STALE_RETRIES) {
            throw new Error('Functions kept changing while the jobs were submitted; retry the request.');
          }
          break;
        default:
          throw new Error(`Unexpected reply from the submit script: ${JSON.stringify(reply[0])}`);
      }
    }
  }

  private async resolve(spec: ValidJobSpec, tenant: string, index: number | undefined): Promise<DeployedFunction> {
    const fn = await this.registry.resolve(tenant, spec.function);
    if (fn) return fn;
    const field = index === undefined ? 'function' : `${index}.function`;
    const where = index === undefined ? 'function' : `jobs.${index}: function`;
    throw new JobSpecError(
      field,
      `${where}: no function "${spec.function}" is deployed for tenant "${tenant}" (nor built in); deploy it first.`,
    );
  }

  /** What must still hold in Redis for `fn` to be what `spec.function` names for `tenant`. */
  private checksOf(spec: ValidJobSpec, fn: DeployedFunction, tenant: string): Check[] {
    const { version } = parseFunctionRef(spec.function);
    const { keys } = this;
    if (version !== undefined) {
      const own: Check = [keys.functionVersion(tenant, fn.name, version), '', fn.tenant === tenant ? '*' : ''];
      return fn.tenant === tenant ? [own] : [own, [keys.functionVersion(fn.tenant, fn.name, version), '', '*']];
    }
    const own: Check = [keys.function(tenant, fn.name), 'latest', fn.tenant === tenant ? String(fn.version) : ''];
    return fn.tenant === tenant ? [own] : [own, [keys.function(fn.tenant, fn.name), 'latest', String(fn.version)]];
  }

  /** The BullMQ job a spec becomes, and the script, keys and arguments BullMQ's add would run for it. */
  private async prepare(
    spec: ValidJobSpec,
    fn: DeployedFunction,
    tenant: string,
    submittedAt: number,
    idempotencyKey: string | undefined,
  ): Promise<PreparedJob> {
    const limits: Limits = { ...definedLimits(fn.defaults), ...definedLimits(spec) };
    const admitted = admissionOf(spec, fn);
    if ('field' in admitted) throw new JobSpecError(admitted.field, admitted.message);
    const priority = spec.priority ?? fn.defaults.priority ?? 'normal';
    const attempts = spec.attempts ?? fn.defaults.attempts ?? 3;
    const backoff = spec.backoff ?? fn.defaults.backoff ?? { type: 'exponential' as const, delayMs: 1000 };
    const data: JobData = {
      function: fn.name,
      version: fn.version,
      sha256: fn.sha256,
      functionTenant: fn.tenant,
      tenant,
      input: spec.input ?? null,
      limits,
      priority,
      restart: spec.restart ?? 'transient',
      submittedAt,
      ...(admitted.admission === undefined ? {} : { admission: admitted.admission }),
    };
    const customId = idempotencyKey === undefined ? '' : idempotentJobId(tenant, idempotencyKey);
    const opts: JobsOptions = {
      attempts: spec.restart === 'temporary' ? 1 : attempts,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      // By age only: BullMQ counts the queue's completed jobs across tenants, so a count would
      // let one tenant's jobs evict another's results (and free its idempotency keys).
      removeOnComplete: { age: this.keepCompletedS },
      removeOnFail: false,
      timestamp: submittedAt,
      // Added prioritized at its rank, the submit step queues it fairly; a delayed one comes due
      // from BullMQ's delayed set, at the priority every queued job waits at.
      priority: spec.delayMs ? FAIR_BULLMQ_PRIORITY : BULLMQ_PRIORITY[priority],
      ...(spec.delayMs ? { delay: spec.delayMs } : {}),
      ...(customId ? { jobId: customId } : {}),
    };
    const captured = await captureAdd(this.queue, fn.name, data, opts, customId || undefined);
    return { data, opts, ...captured, customId };
  }

  private runSubmit(
    jobs: readonly PreparedJob[],
    checks: readonly Check[],
    tenant: string,
    submittedAt: number,
    requestHash: string,
    parent: ParentOfChild | undefined,
  ): Promise<unknown[]> {
    const keys: string[] = [];
    const indexOf = new Map<string, number>();
    const keyIndex = (key: string): number => {
      let index = indexOf.get(key);
      if (index === undefined) {
        keys.push(key);
        index = keys.length;
        indexOf.set(key, index);
      }
      return index;
    };
    const args: Array<string | number | Buffer> = [tenant, this.backlogCap, this.keys.queue, checks.length];
    for (const [key, field, expected] of checks) args.push(keyIndex(key), field, expected);
    args.push(jobs.length);
    // Index scores: submission time in µs-like units, so jobs of one batch keep their order.
    for (const [i, job] of jobs.entries()) {
      const score = submittedAt * 1000 + i;
      args.push(job.adder, job.keys.length, ...job.keys.map(keyIndex), ...job.args, job.customId, score, requestHash);
      args.push(BULLMQ_PRIORITY[job.data.priority] - 1);
    }
    if (parent) {
      args.push(keyIndex(`${this.keys.queue}${parent.jobId}`), keyIndex(this.tree(parent.jobId)), parent.jobId);
      args.push(parent.relation, parent.maxChildren, parent.maxDepth);
    }
    keys.push(this.keys.tenantIndex(tenant), this.keys.tenantOpen(tenant));
    return this.redis.beamlineSubmit(keys.length, ...keys, ...args);
  }

  /**
   * Admits the run of a job this node has just taken with `token` under the job's limits on
   * starting and its function's pause (ADR 0016), or puts the job back in the same step (delayed,
   * no attempt used). `pausable`: whether the function is the tenant's own (built-ins are not paused).
   */
  async admit(job: Job<JobData>, token: string, pausable: boolean, putBackDelayMs: number): Promise<AdmitVerdict> {
    const call = admitCall(this.keys, job, token, pausable, putBackDelayMs);
    return verdictOf(await this.redis.beamlineAdmit(ADMIT_KEYS, ...call));
  }

  /**
   * Which of these functions (`pausedMember(tenant, name)` each) are paused (ADR 0016), in one
   * O(1)-per-member read: what it costs does not grow with how many functions any tenant paused.
   */
  async pausedAmong(members: readonly string[]): Promise<boolean[]> {
    if (members.length === 0) return [];
    const replies = await this.redis.smismember(pausedFunctionsKey(this.keys), ...members);
    return replies.map((reply) => reply === 1);
  }

  /** The job, read with its state in one step; undefined when there is no such job (of `tenant`, when given). */
  async get(jobId: string, tenant = '', childIds = 0): Promise<JobView | undefined> {
    const q = this.queue.keys;
    const reply = await this.redis.beamlineGetJob(
      10,
      q.completed as string,
      q.failed as string,
      q.delayed as string,
      q.active as string,
      q.wait as string,
      q.paused as string,
      q['waiting-children'] as string,
      q.prioritized as string,
      `${this.keys.queue}${jobId}`,
      this.tree(jobId),
      jobId,
      tenant,
      childIds,
    );
    if (reply.length === 0) return undefined;
    const [state, ...flat] = reply;
    const raw: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) raw[flat[i] as string] = flat[i + 1] as string;
    return viewOf(jobId, state as string, raw);
  }

  /** A tenant's job (with the ids of its first 100 children), or undefined when it does not exist or is another tenant's. */
  async getOf(tenant: string, jobId: string): Promise<JobView | undefined> {
    return this.get(jobId, tenant, CHILD_IDS_SHOWN);
  }

  /** Appends lines to a job's log (BullMQ's log list of the job, in one write). */
  async appendLogs(jobId: string, lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.redis.rpush(`${this.keys.queue}${jobId}:logs`, ...lines);
  }

  /** A job's log lines from `from` on, oldest first, and how many there are in all. */
  async logs(jobId: string, from = 0, to = -1): Promise<{ logs: string[]; count: number }> {
    return this.queue.getJobLogs(jobId, from, to, true);
  }

  /**
   * Up to `limit` lines of a tenant's job's log from line `offset` on, oldest first, and how many
   * lines it has in all, read in one step; undefined when there is no such job of `tenant`. The
   * log is one of the job's own keys: BullMQ removes it with the job, so it stays readable after
   * the job ended, exactly as long as the job does.
   */
  async logPage(
    tenant: string,
    jobId: string,
    offset: number,
    limit: number,
  ): Promise<{ logs: string[]; total: number } | undefined> {
    const jobKey = `${this.keys.queue}${jobId}`;
    const replies = await this.redis
      .multi()
      .hget(jobKey, 'tn')
      .lrange(`${jobKey}:logs`, offset, offset + limit - 1)
      .llen(`${jobKey}:logs`)
      .exec();
    const [owner, lines, total] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    if (owner !== tenant) return undefined;
    return { logs: lines as string[], total: total as number };
  }

  /** Failed and cancelled jobs (dead letters), most recently ended first; of one tenant unless `tenant` is undefined. */
  async deadLetters(tenant: string | undefined, start = 0, end = 999): Promise<JobView[]> {
    const ids = await this.redis.zrevrange(this.queue.keys.failed as string, start, end);
    const views = await Promise.all(ids.map((id) => this.get(id, tenant ?? '')));
    return views.filter(
      (view): view is JobView => view !== undefined && (tenant === undefined || view.tenant === tenant),
    );
  }

  /** Jobs not yet ended of a tenant: its backlog. */
  async backlog(tenant: string): Promise<number> {
    return this.redis.scard(this.keys.tenantOpen(tenant));
  }

  /** The ids of a tenant's jobs not yet ended (for checks and tests). */
  async openJobs(tenant: string): Promise<string[]> {
    return this.redis.smembers(this.keys.tenantOpen(tenant));
  }

  /**
   * A page of a tenant's jobs, newest first, optionally of one state or function. Ids whose job
   * expired (BullMQ removed it after keepCompletedS) are dropped from the index as they are met.
   */
  async list(tenant: string, query: JobListQuery): Promise<{ jobs: JobView[]; nextCursor: number | undefined }> {
    const index = this.keys.tenantIndex(tenant);
    const page: JobView[] = [];
    let offset = query.cursor ?? 0;
    const batch = 100;
    // At most 500 jobs read per page, however sparse the filter: a listing's cost stays bounded.
    for (let scanned = 0; page.length < query.limit && scanned < 5 * batch; scanned += batch) {
      const ids = await this.redis.zrevrange(index, offset, offset + batch - 1);
      if (ids.length === 0) return { jobs: page, nextCursor: undefined };
      const views = await Promise.all(ids.map((id) => this.get(id, tenant)));
      const expired = ids.filter((_, i) => views[i] === undefined);
      if (expired.length > 0) await this.redis.zrem(index, ...expired);
      let consumed = 0;
      for (const view of views) {
        if (page.length === query.limit) break;
        consumed++;
        if (!view) continue;
        if ((query.state && view.state !== query.state) || (query.function && view.function !== query.function)) {
          continue;
        }
        page.push(view);
      }
      const removedBefore = views.slice(0, consumed).filter((view) => view === undefined).length;
      offset += consumed - removedBefore;
    }
    const more = (await this.redis.zcard(index)) > offset;
    return { jobs: page, nextCursor: more ? offset : undefined };
  }

  /**
   * Cancels a tenant's job in one atomic step: one not started is removed; a running one is
   * marked (the mark outlives its node) and its node is told to kill it, so it ends with reason
   * `cancelled`, not retried; a finished one is left as it is.
   */
  async cancel(jobId: string, tenant: string): Promise<CancelOutcome> {
    const q = this.queue.keys;
    const [outcome, node, attempt] = await this.redis.beamlineCancel(
      6,
      `${this.keys.queue}${jobId}`,
      q.repeat as string,
      q.completed as string,
      q.failed as string,
      this.keys.tenantIndex(tenant),
      this.keys.tenantOpen(tenant),
      jobId,
      tenant,
      this.keys.queue,
    );
    if (outcome === 'cancelling' && node) {
      await this.control.cancelJob(node, jobId, tenant, attempt ? Number(attempt) : undefined);
    }
    return outcome as CancelOutcome;
  }

  /**
   * Puts a tenant's failed or cancelled job back in the queue with its attempts reset, in one
   * atomic step with its backlog (within the cap: BacklogFullError beyond). False when it is no
   * failed or cancelled job of the tenant; of racing retries, one wins.
   */
  async retry(jobId: string, tenant: string): Promise<boolean> {
    const q = this.queue.keys;
    const [outcome, backlog] = await this.redis.beamlineRetry(
      10,
      `${this.keys.queue}${jobId}`,
      q.events as string,
      q.failed as string,
      q.wait as string,
      q.meta as string,
      q.active as string,
      q.marker as string,
      q.prioritized as string,
      q.pc as string,
      this.keys.tenantOpen(tenant),
      jobId,
      'LPUSH',
      'failedReason',
      'failed',
      '1',
      '0',
      tenant,
      this.backlogCap,
    );
    if (outcome === -1) throw new BacklogFullError(tenant, Number(backlog), this.backlogCap);
    return outcome === 1;
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

function parseSpec(spec: JobSpec): ValidJobSpec {
  const parsed = jobSpecSchema.safeParse(spec);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw new JobSpecError(first?.path.map(String).join('.') || '(root)', describeIssues(parsed.error));
}

function checkTenant(tenant: string): void {
  const valid = tenantSchema.safeParse(tenant);
  if (valid.success && tenant !== BUILTIN_TENANT) return;
  throw new JobSpecError(
    'tenant',
    `tenant ${JSON.stringify(tenant)} cannot submit jobs: ${valid.success ? 'it is reserved' : describeIssues(valid.error)}.`,
  );
}

function hashOf(spec: ValidJobSpec): string {
  const { idempotencyKey: _key, ...request } = spec;
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

function uniqueChecks(checks: readonly Check[]): Check[] {
  const seen = new Map<string, Check>();
  for (const check of checks) seen.set(`${check[0]}\u0000${check[1]}`, check);
  return [...seen.values()];
}

/**
 * The script, keys and arguments BullMQ's own add would send for this job, captured without
 * sending them: the submit script runs BullMQ's add script with exactly these.
 */
async function captureAdd(
  queue: Queue,
  name: string,
  data: JobData,
  opts: JobsOptions,
  jobId: string | undefined,
): Promise<Pick<PreparedJob, 'adder' | 'keys' | 'args'>> {
  let captured: { name: string; args: unknown[] } | undefined;
  const recorder = {
    runCommand: (command: string, args: unknown[]) => {
      captured = { name: command, args };
      return Promise.resolve(1);
    },
  };
  const job = new Job<JobData>(queue, name, data, opts, jobId);
  await job.addJob(recorder as never);
  if (!captured) throw new Error('BullMQ did not run an add script');
  const adder = captured.name.split(':')[0] as string;
  const keyCount = ADD_KEY_COUNTS[adder];
  if (keyCount === undefined) throw new Error(`BullMQ chose ${adder}, which the job store does not wrap`);
  const keys = captured.args.slice(0, keyCount) as string[];
  const args = captured.args.slice(keyCount) as [Buffer | string, string, Buffer | string];
  return { adder, keys, args };
}

/** The view of a job just added, without reading it back (it cannot have run yet). */
function justSubmitted(id: string, job: PreparedJob): JobView {
  return {
    id,
    state: job.opts.delay ? 'delayed' : 'waiting',
    tenant: job.data.tenant,
    function: job.data.function,
    version: job.data.version,
    priority: job.data.priority,
    input: job.data.input,
    attemptsMade: 0,
    attempts: job.opts.attempts ?? 1,
    progress: 0,
    result: undefined,
    node: undefined,
    exit: undefined,
    submittedAt: job.data.submittedAt,
    startedAt: undefined,
    finishedAt: undefined,
  };
}

/** A job's view from its raw BullMQ hash (field names as BullMQ's own decoder reads them). */
function viewOf(id: string, bullmqState: string, raw: Record<string, string>): JobView {
  const data = JSON.parse(raw.data ?? '{}') as JobData;
  const opts = Job.optsFromJSON(raw.opts) as JobsOptions;
  const int = (text: string | undefined) => (text ? Number.parseInt(text, 10) : undefined);
  const timestamp = int(raw.timestamp) ?? data.submittedAt;
  const processedOn = int(raw.processedOn);
  const finishedOn = int(raw.finishedOn);
  const stack = raw.stacktrace ? (JSON.parse(raw.stacktrace) as Array<string | null>).at(-1) : undefined;
  const exit = raw.failedReason
    ? decodeExit(raw.failedReason, stack ?? undefined, finishedOn ?? processedOn ?? timestamp)
    : undefined;
  const state = jobStateOf(bullmqState, exit?.reason);
  return {
    id,
    state,
    tenant: raw.tn ?? data.tenant,
    function: data.function,
    version: data.version,
    priority: data.priority,
    input: data.input,
    attemptsMade: int(raw.attemptsMade ?? raw.atm) ?? 0,
    attempts: opts.attempts ?? 1,
    progress: JSON.parse(raw.progress ?? '0'),
    result: state === 'completed' && raw.returnvalue !== undefined ? JSON.parse(raw.returnvalue) : undefined,
    node: raw.pb,
    exit: state === 'completed' ? undefined : exit,
    submittedAt: timestamp,
    startedAt: processedOn,
    finishedAt: finishedOn,
    ...(raw.pj ? { parent: { id: raw.pj, relation: (raw.pl ?? 'none') as ChildRelation } } : {}),
    ...(raw['bl:children']
      ? {
          children: {
            total: Number(raw['bl:children']),
            ...(raw['bl:childIds'] === undefined ? {} : { ids: raw['bl:childIds'].split(',').filter(Boolean) }),
          },
        }
      : {}),
    ...(raw.rjk ? { schedule: raw.rjk.slice(raw.rjk.indexOf('~') + 1) } : {}),
  };
}
