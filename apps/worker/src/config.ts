import os from 'node:os';
import { ConfigError, DEFAULT_REDIS_URL, EnvReader, keyPrefix, logLevel, redisUrl, wholeNumber } from '@beamline/jobs';
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

/** Reads and checks the configuration; throws ConfigError listing every variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const vars = new EnvReader(env);
  const name = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, '1–100 letters, digits, "_" or "-"');
  const config = {
    redisUrl: vars.read('REDIS_URL', redisUrl, DEFAULT_REDIS_URL),
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
    nodeId: vars.read('NODE_ID', name, undefined) ?? generateNodeId(),
    prefix: vars.read('BEAMLINE_PREFIX', keyPrefix, 'beamline'),
    logLevel: vars.read('LOG_LEVEL', logLevel, 'info'),
    prestartThreads: vars.read('PRESTART_THREADS', wholeNumber(0, 1000), '2'),
  };
  vars.check('worker');
  return config as WorkerConfig;
}

export { ConfigError };
