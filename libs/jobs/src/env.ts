import { z } from 'zod';

/** The environment did not describe a usable configuration; the message names each variable. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    what: string,
  ) {
    super(`Invalid ${what} configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Exit status for a configuration error (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** A whole number from `min` to `max`, given as text. */
export const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `a whole number from ${min} to ${max}`);

export const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/\S+$/, 'a Redis URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0');
/** REDIS_URL when REDIS_CLUSTER is true: one or more seed node URLs, comma-separated. */
export const redisClusterUrls = z
  .string()
  .regex(
    /^rediss?:\/\/[^\s,]+(,\s*rediss?:\/\/[^\s,]+)*$/,
    'one or more Redis URLs of cluster nodes, comma-separated, such as redis://10.0.0.1:6379,redis://10.0.0.2:6379',
  );
export const booleanFlag = z
  .enum(['true', 'false'], { message: 'true or false' })
  .transform((value) => value === 'true');
export const keyPrefix = z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, '1–50 letters, digits, "_" or "-"');
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Which Redis a service uses, for its start-up log: REDIS_URL's servers without credentials, and
 * whether it is the default (REDIS_URL not set), so that a node that fell back to a local Redis
 * says so instead of writing there silently.
 */
export function describeRedis(env: NodeJS.ProcessEnv, url: string): { redis: string; redisFromDefault: boolean } {
  const servers = url.split(',').map((seed) => {
    const trimmed = seed.trim();
    try {
      const parsed = new URL(trimmed);
      parsed.username = '';
      parsed.password = '';
      return parsed.toString().replace(/\/$/, '');
    } catch {
      return trimmed.replace(/\/\/[^@/]*@/, '//');
    }
  });
  return { redis: servers.join(','), redisFromDefault: env.REDIS_URL === undefined };
}

/**
 * Reads variables from `env`, each checked by its schema, collecting every problem (naming the
 * variable, the expected form and what it got) instead of stopping at the first.
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  read<T>(name: string, schema: z.ZodType<T, string>, fallback: string): T | undefined;
  read<T>(name: string, schema: z.ZodType<T, string>, fallback: undefined): T | undefined;
  read<T>(name: string, schema: z.ZodType<T, string>, fallback: string | undefined): T | undefined {
    const raw = this.env[name] ?? fallback;
    if (raw === undefined) return undefined;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.problems.push(`${name} must be ${parsed.error.issues[0]?.message ?? 'valid'}; got ${JSON.stringify(raw)}`);
    return undefined;
  }

  /** Records a problem found outside `read` (a variable with structure of its own). */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws ConfigError when any variable was wrong. */
  check(what: string): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems, what);
  }
}

/**
 * The configuration, or — when the environment is wrong — the message naming each variable on
 * stderr and exit status 78. For an app's entry point.
 */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}
