/**
 * Every Redis key Beamline uses besides BullMQ's own (which live under `<prefix>:jobs:*`).
 * One place, so the API and the workers cannot disagree.
 */
export const DEFAULT_PREFIX = 'beamline';
/** The BullMQ queue every job goes through. */
export const QUEUE_NAME = 'jobs';
/** The tenant that owns the built-in functions; every tenant may run them. */
export const BUILTIN_TENANT = 'builtin';

export class Keys {
  constructor(readonly prefix = DEFAULT_PREFIX) {}

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

  /** HASH job id → JSON { pid, node, startedAt, attempt } while the job's process runs. */
  get running(): string {
    return `${this.prefix}:running`;
  }

  /** HASH pid → JSON { jobId, tenant, node } while a job's process runs (for the API's process endpoints). */
  get pids(): string {
    return `${this.prefix}:pids`;
  }

  /** HASH tenant → jobs submitted and not yet ended (for backlog caps). */
  get backlog(): string {
    return `${this.prefix}:backlog`;
  }

  /** ZSET per tenant: job id → submission time, newest last (for listing a tenant's jobs). */
  tenantJobs(tenant: string): string {
    return `${this.prefix}:tenant:${tenant}:jobs`;
  }

  /** HASH job id → JSON structured exit reason of the job's last abnormal end. */
  get exits(): string {
    return `${this.prefix}:exits`;
  }

  /** STRING set when a job was cancelled before its process started (expires). */
  cancelRequested(jobId: string): string {
    return `${this.prefix}:cancel:${jobId}`;
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
