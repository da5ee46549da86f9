import { createRequire } from 'node:module';
import type { JobsOptions, Queue } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { BUILTIN_TENANT, type Keys, QUEUE_NAME } from '../keys.js';
import type { DeployedFunction, FunctionRegistry } from '../registry.js';
import { describeIssues, FAIR_BULLMQ_PRIORITY, type JobData, jobSpecSchema, MAX_MS, tenantSchema } from '../schemas.js';
import { admissionOf } from './admission.js';
import { definedLimits, JobSpecError } from './job-store.js';
import { type RedisClient, withStoreCommands } from './scripts.js';

export const scheduleIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/,
    'a schedule id is 1–100 letters, digits, "_", "." or "-", starting with a letter or digit',
  );

/** A schedule as a tenant defines it: a job (as POST /v1/jobs takes it) and when to run it. */
export const scheduleSpecSchema = jobSpecSchema.omit({ idempotencyKey: true, delayMs: true }).extend({
  id: scheduleIdSchema,
  cron: z.string().min(1).max(200).optional(),
  everyMs: z.number().int().positive().max(MAX_MS).optional(),
  timezone: z.string().min(1).max(100).optional(),
  paused: z.boolean().optional(),
});
export type ScheduleSpec = z.input<typeof scheduleSpecSchema>;
export type ValidScheduleSpec = z.output<typeof scheduleSpecSchema>;

/** One run a schedule produced: a job of the tenant, or a run skipped because the backlog was full. */
export interface ScheduledRun {
  readonly jobId: string;
  /** When it is (or was) due. */
  readonly dueAt: number;
  /** When its job was created (when the run before it started, or the schedule was created or resumed). */
  readonly producedAt: number;
  /** The tenant's backlog was at its cap: the run ends as `cancelled` when due instead of running. */
  readonly skipped: boolean;
}

export interface ScheduleView {
  readonly spec: ValidScheduleSpec;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the next run is due; undefined while paused. */
  readonly nextRunAt: number | undefined;
}

export interface ScheduleDetail extends ScheduleView {
  /** The next due times (up to `count`), the first being nextRunAt. */
  readonly nextRuns: readonly number[];
  /** Its most recent runs, newest first. */
  readonly lastRuns: readonly ScheduledRun[];
}

export interface ScheduleStoreOptions {
  /** Schedules a tenant may have (default 100). */
  readonly maxSchedules?: number;
  /** The shortest interval a schedule may have, everyMs or between cron times (default 1000). */
  readonly minIntervalMs?: number;
  /** The tenant backlog cap (as the JobStore's): a run due while it is reached is skipped. */
  readonly backlogCap?: number;
  /** Completed runs are kept this long, in seconds (as the JobStore's; default 24 h). */
  readonly keepCompletedS?: number;
}

/** The tenant already has as many schedules as it may. */
export class ScheduleCapError extends Error {
  constructor(
    readonly tenant: string,
    readonly cap: number,
  ) {
    super(`Tenant ${tenant} has ${cap} schedules, the most it may have; delete one, or replace one by its id.`);
    this.name = 'ScheduleCapError';
  }
}

/** The separator between tenant and id in a BullMQ scheduler id: neither may contain it. */
const SEPARATOR = '~';
const RECENT_RUNS = 20;
/** Cron times checked against the minimum interval (within a year of the first). */
const CRON_SAMPLES = 20;
const YEAR_MS = 366 * 24 * 3600 * 1000;

interface ScheduleCommands {
  beamlineUpsertSchedule(keyCount: number, ...args: Array<string | number | Buffer>): Promise<unknown[]>;
  beamlinePauseSchedule(keyCount: number, ...args: Array<string | number>): Promise<number>;
  beamlineDeleteSchedule(keyCount: number, ...args: Array<string | number>): Promise<number>;
}

/**
 * Tenants' schedules, built on BullMQ's job schedulers: each schedule is a scheduler
 * "<tenant>~<id>" whose runs are ordinary jobs of the tenant (in its index and backlog, named by
 * the job view's `schedule`). Every change is one atomic script (commands/upsertSchedule.lua,
 * pauseSchedule.lua, deleteSchedule.lua); the next runs, produced by the node that takes a run,
 * go through the store's updateJobScheduler.
 */
export class ScheduleStore {
  private readonly redis: RedisClient & ScheduleCommands;
  private readonly maxSchedules: number;
  private readonly minIntervalMs: number;
  private readonly backlogCap: number;
  private readonly keepCompletedS: number;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly registry: FunctionRegistry,
    private readonly queue: Queue,
    options: ScheduleStoreOptions = {},
  ) {
    this.redis = withStoreCommands(redis) as unknown as RedisClient & ScheduleCommands;
    this.maxSchedules = options.maxSchedules ?? 100;
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.backlogCap = options.backlogCap ?? Number.MAX_SAFE_INTEGER;
    this.keepCompletedS = options.keepCompletedS ?? 24 * 3600;
  }

  /** Validates `spec` (a JobSpecError names the field) and creates or replaces the schedule (see upsertValid). */
  async upsert(tenant: string, spec: ScheduleSpec): Promise<{ schedule: ScheduleDetail; created: boolean }> {
    const parsed = scheduleSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new JobSpecError(first?.path.map(String).join('.') || '(root)', describeIssues(parsed.error));
    }
    return this.upsertValid(tenant, parsed.data);
  }

  /**
   * Creates the schedule, or replaces the one of that id (its definition, its next run, and its
   * paused state: `paused` unset means active), in one atomic step. The function is resolved and
   * pinned now, as a submission pins it; a replace picks up a newer version.
   */
  async upsertValid(tenant: string, spec: ValidScheduleSpec): Promise<{ schedule: ScheduleDetail; created: boolean }> {
    checkTenant(tenant);
    this.checkTiming(spec);
    const fn = await this.registry.resolve(tenant, spec.function);
    if (!fn) {
      throw new JobSpecError(
        'function',
        `function: no function "${spec.function}" is deployed for tenant "${tenant}" (nor built in); deploy it first.`,
      );
    }
    const { data, opts } = this.runTemplate(tenant, fn, spec);
    const repeat = spec.cron
      ? { pattern: spec.cron, ...(spec.timezone ? { tz: spec.timezone } : {}) }
      : { every: spec.everyMs as number };
    const schedulerId = this.schedulerId(tenant, spec.id);
    const bullmq = await captureAddJobScheduler(this.queue, schedulerId, repeat, fn.name, data, opts);
    const now = Date.now();
    const reply = await this.redis.beamlineUpsertSchedule(
      bullmq.keys.length + 2,
      ...bullmq.keys,
      this.record(schedulerId),
      this.tenantSchedules(tenant),
      ...bullmq.args,
      tenant,
      spec.id,
      JSON.stringify(spec),
      now,
      this.maxSchedules,
      this.backlogCap,
      spec.paused ? '1' : '0',
    );
    switch (reply[0]) {
      case 'ok': {
        const schedule = await this.get(tenant, spec.id);
        if (!schedule) throw new Error(`Schedule ${spec.id} vanished while it was saved`);
        return { schedule, created: Number(reply[1]) === 1 };
      }
      case 'cap':
        throw new ScheduleCapError(tenant, this.maxSchedules);
      default:
        throw new Error(`BullMQ refused the scheduler (code ${String(reply[1])}); retry the request.`);
    }
  }

  /** What every run carries: the job data and options a submission of `spec` would get, its function pinned. */
  private runTemplate(
    tenant: string,
    fn: DeployedFunction,
    spec: ValidScheduleSpec,
  ): { data: JobData; opts: JobsOptions } {
    const priority = spec.priority ?? fn.defaults.priority ?? 'normal';
    const attempts = spec.attempts ?? fn.defaults.attempts ?? 3;
    const backoff = spec.backoff ?? fn.defaults.backoff ?? { type: 'exponential' as const, delayMs: 1000 };
    const admitted = admissionOf(spec, fn);
    if ('field' in admitted) throw new JobSpecError(admitted.field, admitted.message);
    const data: JobData = {
      function: fn.name,
      version: fn.version,
      sha256: fn.sha256,
      functionTenant: fn.tenant,
      tenant,
      input: spec.input ?? null,
      limits: { ...definedLimits(fn.defaults), ...definedLimits(spec) },
      priority,
      restart: spec.restart ?? 'transient',
      submittedAt: Date.now(),
      ...(admitted.admission === undefined ? {} : { admission: admitted.admission }),
    };
    const opts: JobsOptions = {
      attempts: spec.restart === 'temporary' ? 1 : attempts,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      removeOnComplete: { age: this.keepCompletedS },
      removeOnFail: false,
      // A run comes due from BullMQ's delayed set, at the priority every queued job waits at.
      priority: FAIR_BULLMQ_PRIORITY,
    };
    return { data, opts };
  }

  /** The tenant's schedules, oldest first. */
  async list(tenant: string): Promise<ScheduleView[]> {
    const ids = await this.redis.zrange(this.tenantSchedules(tenant), 0, -1);
    const views = await Promise.all(ids.map((id) => this.get(tenant, id, 0)));
    return views.filter((view): view is ScheduleDetail => view !== undefined);
  }

  /** The tenant's schedule with its next `count` due times and recent runs; undefined when it has none of that id. */
  async get(tenant: string, id: string, count = 5): Promise<ScheduleDetail | undefined> {
    if (!scheduleIdSchema.safeParse(id).success) return undefined;
    const schedulerId = this.schedulerId(tenant, id);
    const [record, next, runs] = await Promise.all([
      this.redis.hgetall(this.record(schedulerId)),
      this.redis.zscore(this.queue.keys.repeat as string, schedulerId),
      this.redis.lrange(this.runs(schedulerId), 0, RECENT_RUNS - 1),
    ]);
    if (!record.spec) return undefined;
    const spec = JSON.parse(record.spec) as ValidScheduleSpec;
    const paused = record.paused === '1';
    const nextRunAt = paused || next === null ? undefined : Number(next);
    return {
      spec,
      paused,
      createdAt: Number(record.createdAt),
      updatedAt: Number(record.updatedAt),
      nextRunAt,
      nextRuns: nextRunAt === undefined ? [] : upcoming(spec, nextRunAt, count),
      lastRuns: runs.map((text) => runOf(text)),
    };
  }

  /** Stops the schedule producing runs; its next run, if not started, is removed. Undefined when there is no such schedule. */
  async pause(tenant: string, id: string): Promise<ScheduleDetail | undefined> {
    if (!scheduleIdSchema.safeParse(id).success) return undefined;
    const schedulerId = this.schedulerId(tenant, id);
    const done = await this.redis.beamlinePauseSchedule(
      1,
      this.record(schedulerId),
      this.keys.queue,
      schedulerId,
      tenant,
      Date.now(),
    );
    return done === 1 ? this.get(tenant, id) : undefined;
  }

  /** Restarts a paused schedule from now (an everyMs schedule runs at once); an active one is left as it is. */
  async resume(tenant: string, id: string): Promise<ScheduleDetail | undefined> {
    const current = await this.get(tenant, id);
    if (!current?.paused) return current;
    const { paused: _paused, ...spec } = current.spec;
    return (await this.upsertValid(tenant, spec)).schedule;
  }

  /** Deletes the schedule and its next run not started; runs that started stay. False when there is no such schedule. */
  async remove(tenant: string, id: string): Promise<boolean> {
    if (!scheduleIdSchema.safeParse(id).success) return false;
    const schedulerId = this.schedulerId(tenant, id);
    const done = await this.redis.beamlineDeleteSchedule(
      3,
      this.record(schedulerId),
      this.tenantSchedules(tenant),
      this.runs(schedulerId),
      this.keys.queue,
      schedulerId,
      tenant,
      id,
    );
    return done === 1;
  }

  /** Cron syntax (the parser's message), time zone, exactly one of cron and everyMs, and the minimum interval. */
  private checkTiming(spec: ValidScheduleSpec): void {
    if ((spec.cron === undefined) === (spec.everyMs === undefined)) {
      throw new JobSpecError(
        spec.cron === undefined ? '(root)' : 'everyMs',
        'a schedule has exactly one of "cron" (a cron expression) and "everyMs" (an interval in milliseconds).',
      );
    }
    if (spec.timezone !== undefined) {
      if (spec.cron === undefined) {
        throw new JobSpecError('timezone', 'timezone: applies to "cron" schedules only; leave it out with "everyMs".');
      }
      if (!isTimeZone(spec.timezone)) {
        throw new JobSpecError(
          'timezone',
          `timezone: "${spec.timezone}" is not a known IANA time zone (e.g. "Europe/Paris", "America/New_York", "UTC").`,
        );
      }
    }
    if (spec.everyMs !== undefined && spec.everyMs < this.minIntervalMs) {
      throw new JobSpecError('everyMs', `everyMs: must be at least ${this.minIntervalMs} ms.`);
    }
    if (spec.cron !== undefined) {
      let times: number[];
      try {
        times = cronTimes(spec.cron, spec.timezone, Date.now(), CRON_SAMPLES, YEAR_MS);
      } catch (error) {
        throw new JobSpecError(
          'cron',
          `cron: "${spec.cron}" is not a valid cron expression: ${(error as Error).message}. Use 5 fields (minute hour day month weekday) or 6 with seconds first.`,
        );
      }
      if (times.length === 0) throw new JobSpecError('cron', `cron: "${spec.cron}" never fires.`);
      const shortest = Math.min(
        Number.POSITIVE_INFINITY,
        ...times.slice(1).map((time, i) => time - (times[i] as number)),
      );
      if (shortest < this.minIntervalMs) {
        throw new JobSpecError(
          'cron',
          `cron: "${spec.cron}" fires ${shortest} ms apart; schedules may fire at most once every ${this.minIntervalMs} ms.`,
        );
      }
    }
  }

  private schedulerId(tenant: string, id: string): string {
    return `${tenant}${SEPARATOR}${id}`;
  }

  /** HASH of a schedule: spec (JSON), createdAt, updatedAt, paused. */
  private record(schedulerId: string): string {
    return `${this.keys.queue}bl:schedule:${schedulerId}`;
  }

  /** ZSET of a tenant's schedule ids by creation time. */
  private tenantSchedules(tenant: string): string {
    return `${this.keys.queue}bl:schedules:${tenant}`;
  }

  /** LIST of a schedule's recent runs (JSON), newest first; written by admitScheduledRun.lua. */
  private runs(schedulerId: string): string {
    return `${this.keys.queue}bl:runs:${schedulerId}`;
  }
}

function checkTenant(tenant: string): void {
  if (tenantSchema.safeParse(tenant).success && tenant !== BUILTIN_TENANT) return;
  throw new JobSpecError('tenant', `tenant ${JSON.stringify(tenant)} cannot have schedules.`);
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The next times (at most `count`) of a cron expression after `after` (ms), in `timezone`, up to
 * `horizonMs` past the first: a rare expression ("0 0 29 2 *") costs a few steps, not decades of search.
 */
function cronTimes(
  cron: string,
  timezone: string | undefined,
  after: number,
  count: number,
  horizonMs: number,
): number[] {
  const expression = CronExpressionParser.parse(cron, {
    currentDate: new Date(after),
    ...(timezone ? { tz: timezone } : {}),
  });
  const times: number[] = [];
  while (times.length < count && expression.hasNext()) {
    const time = expression.next().getTime();
    times.push(time);
    if (time - (times[0] as number) > horizonMs) break;
  }
  return times;
}

/** The due times of the next `count` runs, the first at `next`. */
function upcoming(spec: ValidScheduleSpec, next: number, count: number): number[] {
  if (count <= 0) return [];
  if (spec.everyMs !== undefined) return Array.from({ length: count }, (_, i) => next + i * (spec.everyMs as number));
  return [next, ...cronTimes(spec.cron as string, spec.timezone, next, count - 1, 5 * YEAR_MS)];
}

function runOf(text: string): ScheduledRun {
  const run = JSON.parse(text) as { jobId: string; producedAt: number; skipped: boolean };
  return {
    jobId: run.jobId,
    dueAt: Number(run.jobId.slice(run.jobId.lastIndexOf(':') + 1)),
    producedAt: run.producedAt,
    skipped: run.skipped === true,
  };
}

interface SchedulerClass {
  new (
    name: string,
    opts: object,
    backend: () => unknown,
  ): {
    upsertJobScheduler(
      id: string,
      repeat: object,
      name: string,
      data: unknown,
      opts: JobsOptions,
      how: { override: boolean },
    ): Promise<unknown>;
  };
}
type BackendClass = new (
  connection: { client: Promise<unknown> },
  name: string,
  keys: Queue['keys'],
  toKey: (type: string) => string,
  opts: object,
  blocking: undefined,
  ownsConnection: boolean,
) => unknown;

const require = createRequire(import.meta.url);
const { JobScheduler } = require('bullmq/dist/cjs/classes/job-scheduler.js') as { JobScheduler: SchedulerClass };
const { RedisQueueBackend } = require('bullmq/dist/cjs/classes/redis-queue-backend.js') as {
  RedisQueueBackend: BackendClass;
};

/**
 * The keys and arguments BullMQ's own upsertJobScheduler would send to its addJobScheduler
 * script, captured without sending them (its backend runs on a recorder instead of Redis): the
 * upsert script runs BullMQ's script with exactly these.
 */
async function captureAddJobScheduler(
  queue: Queue,
  schedulerId: string,
  repeat: object,
  name: string,
  data: JobData,
  opts: JobsOptions,
): Promise<{ keys: string[]; args: Array<string | number | Buffer> }> {
  let captured: unknown[] | undefined;
  const recorder = {
    runCommand: (command: string, args: unknown[]) => {
      if (command.startsWith('addJobScheduler:')) captured = args;
      return Promise.resolve([`repeat:${schedulerId}:0`, 0]);
    },
  };
  const prefix = queue.opts.prefix;
  const backend = new RedisQueueBackend(
    { client: Promise.resolve(recorder) },
    QUEUE_NAME,
    queue.keys,
    (type) => queue.toKey(type),
    { prefix },
    undefined,
    false,
  );
  const scheduler = new JobScheduler(QUEUE_NAME, { connection: {}, prefix }, () => backend);
  await scheduler.upsertJobScheduler(schedulerId, repeat, name, data, opts, { override: true });
  if (!captured) throw new Error('BullMQ did not run its addJobScheduler script');
  return { keys: captured.slice(0, 11) as string[], args: captured.slice(11) as Array<string | number | Buffer> };
}
