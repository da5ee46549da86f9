import { z } from 'zod';

/** The longest delay a timer can take (ms); limits beyond it would fire at once. */
export const MAX_MS = 2_147_483_647;

export const prioritySchema = z.enum(['max', 'high', 'normal', 'low']);
export type JobPriority = z.infer<typeof prioritySchema>;

export const tenantSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,63}$/,
    'a tenant is 1–64 lower-case letters, digits, "_" or "-", starting with a letter or digit',
  );

export const functionNameSchema = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_-]{0,99}$/,
    'a function name is 1–100 letters, digits, "_" or "-", starting with a letter',
  );

/** `name` (the latest version) or `name@version`. */
export const functionRefSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,99}(@[1-9][0-9]{0,8})?$/, 'a function is "name" or "name@version" (version ≥ 1)');

export function parseFunctionRef(ref: string): { name: string; version: number | undefined } {
  const at = ref.indexOf('@');
  return at < 0 ? { name: ref, version: undefined } : { name: ref.slice(0, at), version: Number(ref.slice(at + 1)) };
}

const milliseconds = z.number().int().positive().max(MAX_MS);

export const limitsSchema = z.strictObject({
  /** Wall-clock time of one run, from its start; the process ends with `timeout`. */
  timeoutMs: milliseconds.optional(),
  /** CPU time of one run; the process ends with `cpu_limit`. */
  cpuMs: milliseconds.optional(),
  /** V8 heap of one run, in MB; the process ends with `memory_limit`. */
  memoryMb: z.number().int().min(16).max(65_536).optional(),
});
export type Limits = z.infer<typeof limitsSchema>;

export const backoffSchema = z.strictObject({
  type: z.enum(['fixed', 'exponential']),
  delayMs: z.number().int().min(0).max(MAX_MS),
});
export type Backoff = z.infer<typeof backoffSchema>;

/** The most jobs a concurrency limit may let run at once (each admission may scan that many slots). */
export const MAX_CONCURRENCY_LIMIT = 1000;
/** The most starts per second a rate limit may allow. */
export const MAX_RATE_PER_SECOND = 1000;

const concurrencyLimit = z.number().int().min(1).max(MAX_CONCURRENCY_LIMIT);

/** A job's concurrency key: 1–128 printable characters, shared by the jobs that may not all run at once. */
export const concurrencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]+$/u, 'a concurrency key is 1–128 characters, none of them control characters');

/** What a deployer may set per function, used when a job does not say. */
export const functionDefaultsSchema = limitsSchema.extend({
  priority: prioritySchema.optional(),
  attempts: z.number().int().min(1).max(100).optional(),
  backoff: backoffSchema.optional(),
  /** Jobs of this function (of one tenant) running at once, across the cluster. */
  concurrency: concurrencyLimit.optional(),
  /** Jobs with one `concurrencyKey` running at once, for a job that gives a key without a `concurrencyLimit`. */
  keyConcurrency: concurrencyLimit.optional(),
  /** Jobs of this function (of one tenant) started per second, across the cluster; jobs over it wait. */
  ratePerSecond: z.number().positive().max(MAX_RATE_PER_SECOND).optional(),
});
export type FunctionDefaults = z.infer<typeof functionDefaultsSchema>;

/**
 * How a job's process is supervised: `transient` (default) restarts it after an abnormal exit
 * while attempts remain; `temporary` never restarts it.
 */
export const restartSchema = z.enum(['transient', 'temporary']);

/** A job as a client submits it. */
export const jobSpecSchema = limitsSchema.extend({
  function: functionRefSchema,
  input: z.unknown().optional(),
  priority: prioritySchema.optional(),
  attempts: z.number().int().min(1).max(100).optional(),
  backoff: backoffSchema.optional(),
  delayMs: z.number().int().min(0).max(MAX_MS).optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
  restart: restartSchema.optional(),
  /** Jobs of the tenant with the same key run at most `concurrencyLimit` (or the function's `keyConcurrency`) at once. */
  concurrencyKey: concurrencyKeySchema.optional(),
  concurrencyLimit: concurrencyLimit.optional(),
});
export type JobSpec = z.input<typeof jobSpecSchema>;
/** A job spec that passed jobSpecSchema. */
export type ValidJobSpec = z.output<typeof jobSpecSchema>;

/** What a job carries in BullMQ: the function pinned to a version and hash at submission. */
export interface JobData {
  /** Set (as the first key) by the job store when the job was cancelled while it ran: a node that takes it again ends it at once. */
  readonly cancelled?: true;
  readonly function: string;
  readonly version: number;
  readonly sha256: string;
  /** The tenant that owns the function (the submitter's, or `builtin`). */
  readonly functionTenant: string;
  readonly tenant: string;
  readonly input: unknown;
  readonly limits: Limits;
  readonly priority: JobPriority;
  readonly restart: z.infer<typeof restartSchema>;
  readonly submittedAt: number;
  /** What must hold before a run starts (ADR 0016); absent when nothing limits the job. */
  readonly admission?: Admission;
}

/**
 * A job's limits on starting, fixed at submission from the job and its function's defaults: the
 * worker asks the job store to admit a run only when there is one (or its function is paused).
 */
export interface Admission {
  /** Jobs of the function (of the tenant) running at once. */
  readonly concurrency?: number;
  readonly key?: string;
  /** Jobs with `key` (of the tenant) running at once. */
  readonly keyLimit?: number;
  /** Starts per second of the function (of the tenant). */
  readonly ratePerSecond?: number;
}

/**
 * The BullMQ priority a job is added with: the submit step reads it as the job's rank within its
 * tenant (max first) and moves the job to FAIR_BULLMQ_PRIORITY, in its tenant's turn (ADR 0017).
 */
export const BULLMQ_PRIORITY: Record<JobPriority, number> = { max: 1, high: 2, normal: 3, low: 4 };

/**
 * The one BullMQ priority every job waits at once queued: a tenant's priority orders its own jobs
 * only, and jobs BullMQ adds back (retries, delays coming due, put-backs) wait among the others.
 */
export const FAIR_BULLMQ_PRIORITY = 1;

/** Turns a zod error into one line per problem, each naming the field's path. */
export function describeIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}
