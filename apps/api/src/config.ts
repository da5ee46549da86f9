import {
  booleanFlag,
  ConfigError,
  DEFAULT_REDIS_URL,
  EnvReader,
  keyPrefix,
  type LogFormat,
  logFormat,
  logLevel,
  type RedisTarget,
  redisClusterUrls,
  redisTarget,
  redisUrl,
  tenantSchema,
  wholeNumber,
} from '@beamline/jobs';
import { z } from 'zod';

export const ADMIN_TENANT = 'admin';

export interface ApiKey {
  readonly key: string;
  readonly tenant: string;
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  /** REDIS_URL: one server, or with REDIS_CLUSTER=true the seed nodes of a Redis Cluster (comma-separated). */
  readonly redisUrl: string;
  readonly redis: RedisTarget;
  readonly prefix: string;
  readonly apiKeys: readonly ApiKey[];
  /** Jobs a tenant may have submitted and not yet ended; beyond it, 429. */
  readonly backlogCap: number;
  /** Schedules a tenant may have (SCHEDULES_PER_TENANT); beyond it, 409. */
  readonly schedulesPerTenant: number;
  /** The shortest interval a schedule may fire at, everyMs or cron (SCHEDULE_MIN_INTERVAL_MS). */
  readonly scheduleMinIntervalMs: number;
  /** Largest request body, except function bundles (which may reach the registry's limit). */
  readonly maxBodyBytes: number;
  readonly logLevel: string;
  /** LOG_FORMAT; unset, pretty on a terminal and JSON otherwise. */
  readonly logFormat?: LogFormat | undefined;
}

/** `key:tenant` pairs, comma-separated; keys of at least 16 characters; tenant `admin` for the admin key. */
function parseKeys(raw: string, vars: EnvReader): ApiKey[] {
  const problems: string[] = [];
  const keys: ApiKey[] = [];
  for (const [index, pair] of raw.split(',').entries()) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const colon = trimmed.lastIndexOf(':');
    const key = trimmed.slice(0, colon);
    const tenant = trimmed.slice(colon + 1);
    if (colon < 0 || key.length < 16 || /\s/.test(key)) {
      problems.push(
        `BEAMLINE_API_KEYS entry ${index + 1} must be "<key>:<tenant>" with a key of at least 16 characters`,
      );
    } else if (tenant !== ADMIN_TENANT && !tenantSchema.safeParse(tenant).success) {
      problems.push(
        `BEAMLINE_API_KEYS entry ${index + 1} has an invalid tenant: 1–64 lower-case letters, digits, "_" or "-"`,
      );
    } else if (tenant === 'builtin') {
      problems.push(`BEAMLINE_API_KEYS entry ${index + 1}: tenant "builtin" is reserved`);
    } else {
      keys.push({ key, tenant });
    }
  }
  if (keys.length === 0 && problems.length === 0) {
    problems.push(
      'BEAMLINE_API_KEYS must hold at least one "<key>:<tenant>" pair (e.g. "a-long-random-key-0001:acme")',
    );
  }
  for (const problem of problems) vars.problem(problem);
  return keys;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const vars = new EnvReader(env);
  const cluster = vars.read('REDIS_CLUSTER', booleanFlag, 'false') ?? false;
  const url = vars.read('REDIS_URL', cluster ? redisClusterUrls : redisUrl, DEFAULT_REDIS_URL);
  const config = {
    port: vars.read('PORT', wholeNumber(0, 65_535), '3000'),
    host: vars.read('HOST', z.string().min(1, 'a host name or address'), '0.0.0.0'),
    redisUrl: url,
    redis: url === undefined ? undefined : redisTarget(url, cluster),
    prefix: vars.read('BEAMLINE_PREFIX', keyPrefix, 'beamline'),
    backlogCap: vars.read('TENANT_BACKLOG_CAP', wholeNumber(1, 100_000_000), '100000'),
    schedulesPerTenant: vars.read('SCHEDULES_PER_TENANT', wholeNumber(0, 100_000), '100'),
    scheduleMinIntervalMs: vars.read('SCHEDULE_MIN_INTERVAL_MS', wholeNumber(1, 86_400_000), '1000'),
    maxBodyBytes: vars.read('MAX_BODY_BYTES', wholeNumber(1024, 64 * 1024 * 1024), String(1024 * 1024)),
    logLevel: vars.read('LOG_LEVEL', logLevel, 'info'),
    logFormat: vars.read('LOG_FORMAT', logFormat, undefined),
    apiKeys: parseKeys(env.BEAMLINE_API_KEYS ?? '', vars),
  };
  vars.check('API');
  return config as ApiConfig;
}

export { ConfigError };
