import { Keys } from '@beamline/jobs';
import { loadConfig, type WorkerConfig } from '../src/config.js';

/** Jobs each consumer (worker node or BullMQ Worker) runs at once. */
export const CONCURRENCY = 16;
export const PREFIX = 'bench';
/** The prefix of BullMQ's keys the worker node uses under PREFIX (in braces: a Redis Cluster hash tag). */
export const QUEUE_PREFIX = new Keys(PREFIX).prefix;

/** The worker node's configuration in the bench, in the bench process and in consumer processes alike. */
export function benchConfig(redisUrl: string): WorkerConfig {
  return loadConfig({
    REDIS_URL: redisUrl,
    METRICS_PORT: '0',
    BEAMLINE_PREFIX: PREFIX,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    // Every bench job is one tenant's: single-tenant throughput at the baselines' concurrency
    // (the default per-tenant cap is 3/4 of WORKER_CONCURRENCY).
    TENANT_MAX_RUNNING_PER_NODE: String(CONCURRENCY),
    LOG_LEVEL: 'silent',
  });
}
