/**
 * Every Redis key Beamline uses besides BullMQ's own (which live under `{<prefix>}:jobs:*`).
 * One place, so the API and the workers cannot disagree.
 */
export const DEFAULT_PREFIX = 'beamline';
/** The BullMQ queue every job goes through. */
export const QUEUE_NAME = 'jobs';
/** The tenant that owns the built-in functions; every tenant may run them. */
export const BUILTIN_TENANT = 'builtin';

export class Keys {
  /**
   * `prefix` in braces: a Redis Cluster hash tag, so every key of a deployment (its queue, the
   * job store's side state, its functions) is in one slot and one atomic script can use them all.
   */
  readonly prefix: string;

  constructor(prefix = DEFAULT_PREFIX) {
    this.prefix = prefix.startsWith('{') ? prefix : `{${prefix}}`;
  }

  /** SET of the function names a tenant has deployed. */
  functionNames(tenant: string): string {
    return `${this.prefix}:fn:${tenant}`;
  }

  /** HASH of one function: `latest` version number, `createdAt`. */
  function(tenant: string, name: string): string {
    return `${this.prefix}:fn:${tenant}:${name}`;
  }

  /** HASH of one version: `sha256`, `defaults` (JSON), `createdAt`. */
  functionVersion(tenant: string, name: string, version: number): string {
    return `${this.prefix}:fn:${tenant}:${name}:v${version}`;
  }

  /** STRING: a function bundle's source, content-addressed. */
  bundle(sha256: string): string {
    return `${this.prefix}:bundle:${sha256}`;
  }

  /** The prefix of BullMQ's keys of the job queue ("{beamline}:jobs:"); the job store's keys live under it too. */
  get queue(): string {
    return `${this.prefix}:${QUEUE_NAME}:`;
  }

  /** ZSET per tenant: job id → submission time × 1000 + place in its batch (for listing a tenant's jobs, newest first). Owned by the job store. */
  tenantIndex(tenant: string): string {
    return `${this.queue}bl:index:${tenant}`;
  }

  /** SET per tenant: ids of its jobs not yet ended; its size is the tenant's backlog. Owned by the job store. */
  tenantOpen(tenant: string): string {
    return `${this.queue}bl:open:${tenant}`;
  }

  /** ZSET per tenant: id of each of its jobs that failed for good → when; beyond the allowance its oldest are removed. Owned by the job store. */
  tenantFailed(tenant: string): string {
    return `${this.queue}bl:failed:${tenant}`;
  }

  /** ZSET per tenant: id of each of its completed jobs → when; beyond its byte allowance its oldest are removed. Owned by the job store. */
  tenantCompleted(tenant: string): string {
    return `${this.queue}bl:done:${tenant}`;
  }

  /** STRING per tenant: bytes of its completed jobs kept (the sum of `bl:donesize:<tenant>`). Owned by the job store. */
  tenantCompletedBytes(tenant: string): string {
    return `${this.queue}bl:donebytes:${tenant}`;
  }

  /** HASH of the job store's settings that its scripts read (`failedKeptPerTenant`, `completedBytesPerTenant`). Owned by the job store. */
  get storeConfig(): string {
    return `${this.queue}bl:config`;
  }

  /** Pub/sub channel of one node's control messages. */
  control(nodeId: string): string {
    return `${this.prefix}:control:${nodeId}`;
  }

  /** ZSET node id → last heartbeat (ms since epoch). */
  get nodes(): string {
    return `${this.prefix}:nodes`;
  }

  /** STRING JSON of one node's latest stats (expires when the node stops beating). */
  node(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }
}

/**
 * The ids jobs get: BullMQ's counter, an idempotency id, or a schedule's run
 * ("repeat:<tenant>~<schedule>:<due ms>"). Anything else names no job (and may name BullMQ's or
 * the store's own keys).
 */
export const JOB_ID =
  /^(\d{1,16}|idem-[0-9a-f]{32}|repeat:[a-z0-9][a-z0-9_-]{0,63}~[A-Za-z0-9][A-Za-z0-9_.-]{0,99}:\d{1,16})$/;
