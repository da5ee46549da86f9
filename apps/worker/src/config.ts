import os from 'node:os';
import {
  booleanFlag,
  ConfigError,
  DEFAULT_REDIS_URL,
  EnvReader,
  keyPrefix,
  type LogFormat,
  logFormat,
  logLevel,
  MAX_MS,
  type RedisTarget,
  redisClusterUrls,
  redisTarget,
  redisUrl,
  tenantSchema,
  wholeNumber,
} from '@beamline/jobs';
import { generateNodeId } from '@beamline/runtime';
import { z } from 'zod';
import { parseEgressAllow, parseEgressDeny } from './egress/index.js';

/** Everything a worker node reads from its environment. */
export interface WorkerConfig {
  /** REDIS_URL: one server, or with REDIS_CLUSTER=true the seed nodes of a Redis Cluster (comma-separated). */
  readonly redisUrl: string;
  readonly redis: RedisTarget;
  readonly metricsPort: number;
  readonly metricsHost: string;
  /** Jobs this node runs at once. */
  readonly concurrency: number;
  /** On SIGTERM, how long running jobs may go on before they are killed and handed back. */
  readonly drainDeadlineMs: number;
  /** BullMQ lock duration: a job whose lock is not renewed within it is considered stalled. */
  readonly lockDurationMs: number;
  /** How often BullMQ looks for stalled jobs (those of dead nodes). */
  readonly stalledIntervalMs: number;
  /** Failed jobs each tenant keeps (KEEP_FAILED_PER_TENANT); as more fail, its oldest are removed. */
  readonly keepFailedPerTenant: number;
  /** Bytes of completed jobs each tenant keeps (KEEP_COMPLETED_BYTES_PER_TENANT); as more complete, its oldest are removed. */
  readonly keepCompletedBytesPerTenant: number;
  readonly nodeId: string;
  readonly prefix: string;
  readonly logLevel: string;
  /** LOG_FORMAT; unset, pretty on a terminal and JSON otherwise. */
  readonly logFormat?: LogFormat | undefined;
  /** Sandboxes kept started with no function loaded. */
  readonly prestartThreads: number;
  /** Refuse to start when job sandboxes cannot get their own kernel namespaces (SANDBOX_REQUIRE_NAMESPACES). */
  readonly sandboxRequireNamespaces: boolean;
  /** Wall-clock limit of a run when neither the job nor its function sets `timeoutMs` (and its tenant has no own default). */
  readonly defaultJobTimeoutMs: number;
  /** Memory limit of a run when neither the job nor its function sets `memoryMb`. */
  readonly defaultJobMemoryMb: number;
  /** The most memory a run may have, whatever it asks (MAX_JOB_MEMORY_MB). */
  readonly maxJobMemoryMb: number;
  /** Jobs of one tenant this node runs at once, unless TENANT_LIMITS says otherwise for that tenant. */
  readonly tenantMaxRunningPerNode: number;
  /** Jobs a tenant may have not yet ended (TENANT_BACKLOG_CAP, as the API's): child jobs count against it. */
  readonly tenantBacklogCap: number;
  /** Jobs one job may start with ctx.startJob, in all (JOB_MAX_CHILDREN; ADR 0013). */
  readonly jobMaxChildren: number;
  /** How deep a tree of jobs may grow: a job submitted over the API is at depth 0 (JOB_TREE_MAX_DEPTH). */
  readonly jobTreeMaxDepth: number;
  /** Per-tenant overrides of the platform defaults (TENANT_LIMITS). */
  readonly tenantLimits: Readonly<Record<string, TenantLimits>>;
  /** The API's base URL, if given (API_URL): its host is denied to job egress. */
  readonly apiUrl: string | undefined;
  /** Per tenant, private destinations its jobs may fetch (EGRESS_ALLOW). */
  readonly egressAllow: Readonly<Record<string, readonly string[]>>;
  /**
   * Destinations no job may fetch whatever EGRESS_ALLOW says: the platform's own services (Redis,
   * this node's HTTP port, the API's host) and the entries of EGRESS_DENY.
   */
  readonly egressDeny: readonly string[];
}

/** What TENANT_LIMITS may set for one tenant. */
export interface TenantLimits {
  /** Replaces DEFAULT_JOB_TIMEOUT_MS for this tenant's jobs. */
  readonly timeoutMs?: number;
  /** Replaces TENANT_MAX_RUNNING_PER_NODE for this tenant. */
  readonly maxRunningPerNode?: number;
}

const httpUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'an http:// or https:// URL such as https://api.example.com');

/** EGRESS_ALLOW: per tenant, the private destinations its jobs may fetch (JSON, see parseEgressAllow). */
function readEgressAllow(vars: EnvReader, text: string | undefined): Record<string, string[]> {
  if (text === undefined) return {};
  try {
    const allow = parseEgressAllow(text);
    for (const tenant of Object.keys(allow)) {
      if (!tenantSchema.safeParse(tenant).success) {
        vars.problem(
          `EGRESS_ALLOW names ${JSON.stringify(tenant)}, which is not a tenant (1–64 lower-case letters, digits, "_" or "-")`,
        );
      }
    }
    return allow;
  } catch (error) {
    const message = (error as Error).message;
    vars.problem(message.startsWith('EGRESS_ALLOW') ? message : `EGRESS_ALLOW: ${message}`);
    return {};
  }
}

const TENANT_LIMITS_EXAMPLE = '{"acme": {"timeoutMs": 60000, "maxRunningPerNode": 2}}';

/**
 * TENANT_LIMITS: a JSON object of tenant → { timeoutMs?, maxRunningPerNode? }. Every problem is
 * recorded on `vars`, naming the tenant and the field.
 */
function readTenantLimits(vars: EnvReader, text: string | undefined): Record<string, TenantLimits> {
  const limits: Record<string, TenantLimits> = Object.create(null) as Record<string, TenantLimits>;
  if (text === undefined || text.trim() === '') return limits;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    vars.problem(`TENANT_LIMITS must be a JSON object such as ${TENANT_LIMITS_EXAMPLE}; got ${JSON.stringify(text)}`);
    return limits;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    vars.problem(`TENANT_LIMITS must be a JSON object such as ${TENANT_LIMITS_EXAMPLE}; got ${JSON.stringify(text)}`);
    return limits;
  }
  const whole = (n: unknown, min: number, max: number) =>
    typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
  for (const [tenant, entry] of Object.entries(value)) {
    if (!tenantSchema.safeParse(tenant).success) {
      vars.problem(
        `TENANT_LIMITS names ${JSON.stringify(tenant)}, which is not a tenant (1–64 lower-case letters, digits, "_" or "-")`,
      );
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      vars.problem(`TENANT_LIMITS.${tenant} must be an object such as {"timeoutMs": 60000, "maxRunningPerNode": 2}`);
      continue;
    }
    const fields = entry as Record<string, unknown>;
    const parsed: { timeoutMs?: number; maxRunningPerNode?: number } = {};
    for (const [field, n] of Object.entries(fields)) {
      if (field === 'timeoutMs') {
        if (whole(n, 1, MAX_MS)) parsed.timeoutMs = n as number;
        else
          vars.problem(
            `TENANT_LIMITS.${tenant}.timeoutMs must be a whole number from 1 to ${MAX_MS}; got ${JSON.stringify(n)}`,
          );
      } else if (field === 'maxRunningPerNode') {
        if (whole(n, 1, 10_000)) parsed.maxRunningPerNode = n as number;
        else
          vars.problem(
            `TENANT_LIMITS.${tenant}.maxRunningPerNode must be a whole number from 1 to 10000; got ${JSON.stringify(n)}`,
          );
      } else {
        vars.problem(
          `TENANT_LIMITS.${tenant} has an unknown field ${JSON.stringify(field)} (known: timeoutMs, maxRunningPerNode)`,
        );
      }
    }
    limits[tenant] = parsed;
  }
  return limits;
}

/** `host:port` as an egress entry (IPv6 addresses in brackets). */
function hostPort(host: string, port: number | undefined): string {
  const bare = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  return port === undefined ? bare : `${bare}:${port}`;
}

/** This node's own addresses, for the deny entries of a server that listens on all of them. */
function ownAddresses(): string[] {
  const addresses = new Set(['127.0.0.1', '::1', 'localhost']);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) if (!info.address.includes('%')) addresses.add(info.address);
  }
  return [...addresses];
}

/**
 * The platform's own services, which no job may reach: the Redis of REDIS_URL, this node's HTTP
 * server (metrics, health), the API's host.
 */
function platformServices(
  redis: RedisTarget | undefined,
  metricsHost: string | undefined,
  metricsPort: number | undefined,
  apiUrl: string | undefined,
): string[] {
  const deny: string[] = [];
  for (const node of redis?.urls ?? []) {
    try {
      const url = new URL(node);
      deny.push(hostPort(url.hostname, Number(url.port || 6379)));
    } catch {
      // REDIS_URL's own check reports it.
    }
  }
  if (metricsPort !== undefined && metricsPort > 0 && metricsHost !== undefined) {
    const hosts = metricsHost === '0.0.0.0' || metricsHost === '::' ? ownAddresses() : [metricsHost];
    for (const host of hosts) deny.push(hostPort(host, metricsPort));
  }
  if (apiUrl !== undefined) deny.push(hostPort(new URL(apiUrl).hostname, undefined));
  return deny;
}

/** Reads and checks the configuration; throws ConfigError listing every variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const vars = new EnvReader(env);
  const name = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, '1–100 letters, digits, "_" or "-"');
  const cluster = vars.read('REDIS_CLUSTER', booleanFlag, 'false') ?? false;
  const url = vars.read('REDIS_URL', cluster ? redisClusterUrls : redisUrl, DEFAULT_REDIS_URL);
  const config = {
    redisUrl: url,
    redis: url === undefined ? undefined : redisTarget(url, cluster),
    metricsPort: vars.read('METRICS_PORT', wholeNumber(0, 65_535), '9464'),
    metricsHost: vars.read('METRICS_HOST', z.string().min(1, 'a host name or address to listen on'), '0.0.0.0'),
    concurrency: vars.read(
      'WORKER_CONCURRENCY',
      wholeNumber(1, 10_000),
      String(Math.max(8, os.availableParallelism() * 4)),
    ),
    drainDeadlineMs: vars.read('DRAIN_DEADLINE_MS', wholeNumber(0, 86_400_000), '30000'),
    lockDurationMs: vars.read('LOCK_DURATION_MS', wholeNumber(500, 3_600_000), '30000'),
    stalledIntervalMs: vars.read('STALLED_INTERVAL_MS', wholeNumber(500, 3_600_000), '30000'),
    keepFailedPerTenant: vars.read('KEEP_FAILED_PER_TENANT', wholeNumber(1, 100_000_000), '10000'),
    keepCompletedBytesPerTenant: vars.read(
      'KEEP_COMPLETED_BYTES_PER_TENANT',
      wholeNumber(1024 * 1024, Number.MAX_SAFE_INTEGER),
      String(256 * 1024 * 1024),
    ),
    nodeId: vars.read('NODE_ID', name, undefined) ?? generateNodeId(),
    prefix: vars.read('BEAMLINE_PREFIX', keyPrefix, 'beamline'),
    logLevel: vars.read('LOG_LEVEL', logLevel, 'info'),
    logFormat: vars.read('LOG_FORMAT', logFormat, undefined),
    prestartThreads: vars.read('PRESTART_THREADS', wholeNumber(0, 1000), '2'),
    sandboxRequireNamespaces:
      vars.read('SANDBOX_REQUIRE_NAMESPACES', z.enum(['true', 'false'], { message: 'true or false' }), 'false') ===
      'true',
    defaultJobTimeoutMs: vars.read('DEFAULT_JOB_TIMEOUT_MS', wholeNumber(1, MAX_MS), '900000'),
    defaultJobMemoryMb: vars.read('DEFAULT_JOB_MEMORY_MB', wholeNumber(16, 65_536), '256'),
    maxJobMemoryMb: vars.read('MAX_JOB_MEMORY_MB', wholeNumber(16, 65_536), '1024'),
    tenantMaxRunningPerNode: undefined as number | undefined,
    tenantBacklogCap: vars.read('TENANT_BACKLOG_CAP', wholeNumber(1, 100_000_000), '100000'),
    jobMaxChildren: vars.read('JOB_MAX_CHILDREN', wholeNumber(0, 100_000), '1000'),
    jobTreeMaxDepth: vars.read('JOB_TREE_MAX_DEPTH', wholeNumber(0, 100), '10'),
    tenantLimits: readTenantLimits(vars, env.TENANT_LIMITS),
    apiUrl: vars.read('API_URL', httpUrl, undefined),
    egressAllow: readEgressAllow(vars, env.EGRESS_ALLOW),
    egressDeny: [] as string[],
  };
  let operatorDeny: string[] = [];
  try {
    operatorDeny = parseEgressDeny(env.EGRESS_DENY ?? '');
  } catch (error) {
    vars.problem(`EGRESS_DENY must be entries such as "10.0.0.0/8, db.internal:5432": ${(error as Error).message}`);
  }
  config.egressDeny = [
    ...platformServices(config.redis, config.metricsHost, config.metricsPort, config.apiUrl),
    ...operatorDeny,
  ];
  const concurrency = config.concurrency ?? 1;
  config.tenantMaxRunningPerNode = vars.read(
    'TENANT_MAX_RUNNING_PER_NODE',
    wholeNumber(1, 10_000),
    String(Math.max(1, concurrency - Math.ceil(concurrency / 4))),
  );
  vars.check('worker');
  return config as WorkerConfig;
}

export { ConfigError };
