import os from 'node:os';
import { generateNodeId } from '@beamline/runtime';
import { z } from 'zod';

/** Everything a worker node reads from its environment. */
export interface WorkerConfig {
  readonly redisUrl: string;
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
  readonly nodeId: string;
  readonly prefix: string;
  readonly logLevel: string;
  /** Threads kept started with no function loaded. */
  readonly prestartThreads: number;
}

/** The environment did not describe a usable configuration; the message names each variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid worker configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `a whole number from ${min} to ${max}`);

const variables = {
  REDIS_URL: {
    schema: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'a Redis URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0'),
    fallback: 'redis://127.0.0.1:6379',
  },
  METRICS_PORT: { schema: integer(0, 65_535), fallback: '9464' },
  METRICS_HOST: { schema: z.string().min(1, 'a host name or address to listen on'), fallback: '0.0.0.0' },
  WORKER_CONCURRENCY: { schema: integer(1, 10_000), fallback: String(Math.max(8, os.availableParallelism() * 4)) },
  DRAIN_DEADLINE_MS: { schema: integer(0, 86_400_000), fallback: '30000' },
  LOCK_DURATION_MS: { schema: integer(500, 3_600_000), fallback: '30000' },
  STALLED_INTERVAL_MS: { schema: integer(500, 3_600_000), fallback: '30000' },
  NODE_ID: {
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, '1–100 letters, digits, "_" or "-"'),
    fallback: undefined,
  },
  BEAMLINE_PREFIX: {
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, '1–50 letters, digits, "_" or "-"'),
    fallback: 'beamline',
  },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), fallback: 'info' },
  PRESTART_THREADS: { schema: integer(0, 1000), fallback: '2' },
} as const;

/** Reads and checks the configuration; throws ConfigError listing every variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const problems: string[] = [];
  const read = <K extends keyof typeof variables>(name: K): z.output<(typeof variables)[K]['schema']> | undefined => {
    const { schema, fallback } = variables[name];
    const raw = env[name] ?? fallback;
    if (raw === undefined) return undefined;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data as z.output<(typeof variables)[K]['schema']>;
    problems.push(`${name} must be ${parsed.error.issues[0]?.message ?? 'valid'}; got ${JSON.stringify(raw)}`);
    return undefined;
  };
  const config = {
    redisUrl: read('REDIS_URL'),
    metricsPort: read('METRICS_PORT'),
    metricsHost: read('METRICS_HOST'),
    concurrency: read('WORKER_CONCURRENCY'),
    drainDeadlineMs: read('DRAIN_DEADLINE_MS'),
    lockDurationMs: read('LOCK_DURATION_MS'),
    stalledIntervalMs: read('STALLED_INTERVAL_MS'),
    nodeId: read('NODE_ID') ?? generateNodeId(),
    prefix: read('BEAMLINE_PREFIX'),
    logLevel: read('LOG_LEVEL'),
    prestartThreads: read('PRESTART_THREADS'),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config as WorkerConfig;
}
