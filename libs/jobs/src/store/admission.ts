import type { Job } from 'bullmq';
import type { Keys } from '../keys.js';
import type { DeployedFunction } from '../registry.js';
import type { Admission, JobData, ValidJobSpec } from '../schemas.js';

/** SET of the paused functions of every tenant, as "<tenant>/<function>" (ADR 0016). */
export function pausedFunctionsKey(keys: Keys): string {
  return `${keys.queue}bl:paused`;
}

/** A tenant's function in the paused set: neither part can hold a "/". */
export function pausedMember(tenant: string, functionName: string): string {
  return `${tenant}/${functionName}`;
}

/**
 * SET of the ids of a tenant's jobs of one function parked while it is paused (ADR 0016): each
 * waits in BullMQ's delayed set for PARKED_MS, or until the function is resumed or deleted.
 */
export function parkedJobsKey(keys: Keys, tenant: string, functionName: string): string {
  return `${keys.queue}bl:parked:${tenant}:${functionName}`;
}

/**
 * How long a job of a paused function waits at least before a node looks at it again (ms; up to
 * half as long again, jittered). Resuming or deleting the function brings its parked jobs back at
 * once; this only bounds how long a job could wait if that step were lost, and how often a paused
 * backlog is looked at.
 */
export const PARKED_MS = 600_000;

/** SET of the ids of a tenant's jobs of one function admitted under its concurrency and not yet ended. */
export function functionRunningKey(keys: Keys, tenant: string, functionName: string): string {
  return `${keys.queue}bl:run:fn:${tenant}:${functionName}`;
}

/** SET of the ids of a tenant's jobs with one concurrency key admitted and not yet ended (a tenant holds no ":"). */
export function keyRunningKey(keys: Keys, tenant: string, concurrencyKey: string): string {
  return `${keys.queue}bl:run:key:${tenant}:${concurrencyKey}`;
}

/**
 * ZSET of the ids of jobs waiting, parked, for a slot of a running set, in the order they first
 * waited (`bl:run:...` → `bl:slotq:...`, the same name after it: the admit and finish scripts
 * derive one from the other).
 */
export function slotWaitersKey(keys: Keys, runningSet: string): string {
  const running = `${keys.queue}bl:run:`;
  if (!runningSet.startsWith(running)) throw new Error(`${runningSet} is no running set of ${keys.queue}`);
  return `${keys.queue}bl:slotq:${runningSet.slice(running.length)}`;
}

/** STRING: the earliest time (ms) a tenant's job of one function may start under its rate. */
export function rateKey(keys: Keys, tenant: string, functionName: string): string {
  return `${keys.queue}bl:rate:${tenant}:${functionName}`;
}

/** The limits on starting a job gets from its spec and its function's defaults; a problem names its field. */
export function admissionOf(
  spec: Pick<ValidJobSpec, 'concurrencyKey' | 'concurrencyLimit'>,
  fn: DeployedFunction,
): { readonly admission: Admission | undefined } | { readonly field: string; readonly message: string } {
  const { concurrency, keyConcurrency, ratePerSecond } = fn.defaults;
  if (spec.concurrencyLimit !== undefined && spec.concurrencyKey === undefined) {
    return { field: 'concurrencyLimit', message: 'concurrencyLimit: give it with a concurrencyKey.' };
  }
  const keyLimit = spec.concurrencyKey === undefined ? undefined : (spec.concurrencyLimit ?? keyConcurrency);
  if (spec.concurrencyKey !== undefined && keyLimit === undefined) {
    return {
      field: 'concurrencyLimit',
      message: `concurrencyLimit: a job with a concurrencyKey needs one, as function "${fn.name}" sets no keyConcurrency.`,
    };
  }
  const admission: Admission = {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(spec.concurrencyKey === undefined || keyLimit === undefined ? {} : { key: spec.concurrencyKey, keyLimit }),
    ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
  };
  return { admission: Object.keys(admission).length === 0 ? undefined : admission };
}

/** How an admission ended: the run may start, or the job was put back (delayed, no attempt used). */
export type AdmitVerdict =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      readonly reason: 'paused' | 'concurrency' | 'key' | 'rate';
      readonly delayMs: number;
    };

/** How many of admitCall's values are keys. */
export const ADMIT_KEYS = 18;

/** The keys and arguments of the admit script for a job just taken with `token`. */
export function admitCall(
  keys: Keys,
  job: Job<JobData>,
  token: string,
  pausable: boolean,
  putBackDelayMs: number,
): Array<string | number> {
  const data = job.data;
  const admission = data.admission ?? {};
  const queueKey = (name: string): string => `${keys.queue}${name}`;
  const jobId = job.id as string;
  return [
    queueKey('marker'),
    queueKey('active'),
    queueKey('prioritized'),
    queueKey('delayed'),
    queueKey(jobId),
    queueKey('events'),
    queueKey('meta'),
    queueKey('stalled'),
    queueKey('wait'),
    queueKey('limiter'),
    queueKey('pc'),
    pausedFunctionsKey(keys),
    functionRunningKey(keys, data.tenant, data.function),
    keyRunningKey(keys, data.tenant, admission.key ?? ''),
    rateKey(keys, data.tenant, data.function),
    parkedJobsKey(keys, data.tenant, data.function),
    slotWaitersKey(keys, functionRunningKey(keys, data.tenant, data.function)),
    slotWaitersKey(keys, keyRunningKey(keys, data.tenant, admission.key ?? '')),
    keys.queue,
    Date.now(),
    jobId,
    token,
    0,
    '1',
    '',
    '0',
    '',
    pausable ? pausedMember(data.tenant, data.function) : '',
    admission.concurrency ?? 0,
    admission.keyLimit ?? 0,
    admission.ratePerSecond ?? 0,
    putBackDelayMs,
    Math.random(),
    PARKED_MS,
  ];
}

/** The admit script's reply as a verdict; a negative code means the job is no longer this node's. */
export function verdictOf(reply: unknown[]): AdmitVerdict {
  const [code, reason, delayMs] = reply;
  if (code === 1) return { admitted: true };
  if (code === 0) {
    return { admitted: false, reason: reason as 'paused' | 'concurrency' | 'key' | 'rate', delayMs: Number(delayMs) };
  }
  throw new Error(`Job not admitted: it is no longer locked by this node (code ${String(code)})`);
}

/** Keys and arguments of the step that resumes a function and brings back up to `most` of its parked jobs. */
export function unparkCall(
  keys: Keys,
  tenant: string,
  functionName: string,
  resume: boolean,
  most: number,
): Array<string | number> {
  const queueKey = (name: string): string => `${keys.queue}${name}`;
  return [
    pausedFunctionsKey(keys),
    parkedJobsKey(keys, tenant, functionName),
    queueKey('delayed'),
    queueKey('wait'),
    queueKey('paused'),
    queueKey('meta'),
    queueKey('prioritized'),
    queueKey('active'),
    queueKey('pc'),
    queueKey('events'),
    queueKey('marker'),
    keys.queue,
    resume ? pausedMember(tenant, functionName) : '',
    most,
  ];
}
