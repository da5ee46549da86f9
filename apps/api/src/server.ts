import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ControlPublisher,
  connectRedis,
  FunctionRegistry,
  JobStore,
  Keys,
  QUEUE_NAME,
  type RedisTarget,
  ScheduleStore,
} from '@beamline/jobs';
import { serve } from '@hono/node-server';
import type { ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import type { ApiConfig } from './config.js';
import { DeployChecker } from './deploy-check.js';
import { JobEvents } from './job-events.js';
import { ApiMetrics } from './metrics.js';

/** Connection options for BullMQ's blocking event reader: a URL for one server, seed nodes for a cluster. */
function readerConnection(target: RedisTarget): ConnectionOptions {
  const [url] = target.urls;
  if (!target.cluster) return { url: url as string, maxRetriesPerRequest: null };
  return connectRedis(target, { maxRetriesPerRequest: null }) as ConnectionOptions;
}

export interface RunningApi {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Connects to Redis (commands fail fast while it is down: the API answers 503) and serves the app. */
export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  const redis = connectRedis(config.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (error) => logger.warn({ err: error.message }, 'Redis connection error; reconnecting'));
  const keys = new Keys(config.prefix);
  // Like the API's own connection, the queue's commands fail at once while Redis is down (503),
  // instead of waiting in an offline queue; only the event reader needs a blocking connection.
  // No auto-pipelining: it held each submission's script until the end of the tick and sent the
  // tick's scripts together, so Redis and the handler took turns instead of overlapping, and it
  // built an ioredis Pipeline (copying every BullMQ script onto it) per tick. Without it the API
  // accepted 1.7× the submissions (docs/benchmarks.md, 2026-12-01).
  const queueRedis = connectRedis(config.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  queueRedis.on('error', () => undefined);
  const registry = new FunctionRegistry(redis, keys);
  const control = new ControlPublisher(redis, keys);
  const jobs = new JobStore(queueRedis, keys, registry, control, { backlogCap: config.backlogCap });
  const queue = jobs.queue;
  const schedules = new ScheduleStore(queueRedis, keys, registry, queue, {
    backlogCap: config.backlogCap,
    maxSchedules: config.schedulesPerTenant,
    minIntervalMs: config.scheduleMinIntervalMs,
  });
  // The event reader blocks (XREAD): BullMQ gives it a connection of its own, from these options.
  const events = new JobEvents(
    QUEUE_NAME,
    () => ({ connection: readerConnection(config.redis), prefix: keys.prefix }),
    (error) => logger.warn({ err: error.message }, 'queue events connection error'),
  );
  queue.on('error', (error) => logger.warn({ err: error.message }, 'queue connection error'));
  // Serve at once either way; while Redis is down, /v1 answers 503 until it comes back.
  const deadline = Date.now() + 5000;
  while ((redis.status !== 'ready' || queueRedis.status !== 'ready') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const app = createApp({
    config,
    redis,
    queue,
    events,
    keys,
    registry,
    deployChecker: new DeployChecker(),
    jobs,
    schedules,
    control,
    metrics: new ApiMetrics(
      () => redis.status === 'ready' && queueRedis.status === 'ready',
      () => queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
    ),
    redisReady: () => redis.status === 'ready' && queueRedis.status === 'ready',
    logger,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s as Server));
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'API listening');
  return {
    port,
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await events.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      queueRedis.disconnect();
      redis.disconnect();
    },
  };
}
