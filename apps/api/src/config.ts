import { tenantSchema } from '@beamline/jobs';
import { z } from 'zod';

export const ADMIN_TENANT = 'admin';

export interface ApiKey {
  readonly key: string;
  readonly tenant: string;
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly apiKeys: readonly ApiKey[];
  /** Jobs a tenant may have submitted and not yet ended; beyond it, 429. */
  readonly backlogCap: number;
  /** Largest request body, except function bundles (which may reach the registry's limit). */
  readonly maxBodyBytes: number;
  readonly logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid API configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `a whole number from ${min} to ${max}`);

/** `key:tenant` pairs, comma-separated; keys of at least 16 characters; tenant `admin` for the admin key. */
function parseKeys(raw: string, problems: string[]): ApiKey[] {
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
  return keys;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const problems: string[] = [];
  const read = <T>(name: string, schema: z.ZodType<T, string>, fallback: string): T | undefined => {
    const raw = env[name] ?? fallback;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    problems.push(`${name} must be ${parsed.error.issues[0]?.message ?? 'valid'}; got ${JSON.stringify(raw)}`);
    return undefined;
  };
  const config = {
    port: read('PORT', integer(0, 65_535), '3000'),
    host: read('HOST', z.string().min(1, 'a host name or address'), '0.0.0.0'),
    redisUrl: read(
      'REDIS_URL',
      z.string().regex(/^rediss?:\/\/\S+$/, 'a Redis URL such as redis://127.0.0.1:6379'),
      'redis://127.0.0.1:6379',
    ),
    prefix: read(
      'BEAMLINE_PREFIX',
      z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, '1–50 letters, digits, "_" or "-"'),
      'beamline',
    ),
    backlogCap: read('TENANT_BACKLOG_CAP', integer(1, 100_000_000), '100000'),
    maxBodyBytes: read('MAX_BODY_BYTES', integer(1024, 64 * 1024 * 1024), String(1024 * 1024)),
    logLevel: read('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
    apiKeys: parseKeys(env.BEAMLINE_API_KEYS ?? '', problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ApiConfig;
}
