import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  ControlPublisher,
  FunctionRegistry,
  type JobSpec,
  JobStore,
  type JobView,
  Keys,
  QUEUE_NAME,
} from '@beamline/jobs';
import type { RedisServerOptions } from '@beamline/testing';
import { useRedisServer } from '@beamline/testing/vitest';
import { type Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { loadConfig } from '../src/config.js';
import { WorkerNode, type WorkerNodeOptions } from '../src/worker-node.js';

const started: WorkerNode[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(started.splice(0).map((worker) => worker.stop()));
});

let serial = 0;

/** A worker node in this process, on a private Redis, with test-friendly settings. Stopped after the test. */
export async function startWorker(
  redisUrl: string,
  env: Record<string, string> = {},
  options: WorkerNodeOptions = {},
): Promise<WorkerNode> {
  const config = loadConfig({
    REDIS_URL: redisUrl,
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    NODE_ID: `w${++serial}-${process.pid}`,
    PRESTART_THREADS: '1',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const worker = await WorkerNode.start(config, pino({ level: config.logLevel }), options);
  started.push(worker);
  return worker;
}

const MAIN = new URL('../dist/main.js', import.meta.url);

/** A worker node as its own OS process (dist/main.js); resolves once it has started. Killed after the test. */
export async function spawnWorker(redisUrl: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN.pathname], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker node started')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before starting:\n${output}`)));
  });
  return child;
}

export async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** What a test needs to submit and follow jobs: the job store, its queue and queue events. */
export interface Jobs {
  /** The one owner of job state, as the API uses it. */
  readonly store: JobStore;
  /** BullMQ's queue under the store (for counts and raw job fields such as stack traces). */
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly redis: Redis;
  readonly control: ControlPublisher;
  readonly keys: Keys;
  /** Submits one job through the store (for `tenant`, default 'default') and returns its view. */
  submit(spec: JobSpec, tenant?: string): Promise<JobView>;
  /** Resolves with the store's view of the job once it has completed, failed or been cancelled for good. */
  finished(jobId: string, timeoutMs?: number): Promise<JobView>;
  close(): Promise<void>;
}

export async function jobs(redisUrl: string): Promise<Jobs> {
  const keys = new Keys();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  const events = new QueueEvents(QUEUE_NAME, {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    prefix: keys.prefix,
  });
  await events.waitUntilReady();
  const control = new ControlPublisher(redis, keys);
  const store = new JobStore(redis, keys, new FunctionRegistry(redis, keys), control);
  const { queue } = store;
  return {
    store,
    queue,
    events,
    redis,
    control,
    keys,
    async submit(spec, tenant) {
      return (await store.submit(spec, tenant)).job;
    },
    async finished(jobId, timeoutMs = 15_000) {
      const job = await queue.getJob(jobId);
      if (!job) throw new Error(`no job ${jobId}`);
      await Promise.race([
        job.waitUntilFinished(events, timeoutMs).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, timeoutMs)),
      ]);
      const view = await store.get(jobId);
      if (!view) throw new Error(`job ${jobId} vanished`);
      return view;
    },
    async close() {
      await events.close();
      await store.close();
      redis.disconnect();
    },
  };
}

/** A job process as a worker node's heartbeat lists it (`keys.node(nodeId)`). */
interface BeatProcess {
  readonly pid: string;
  readonly jobId?: string;
}

/**
 * Resolves with the pid of the job's process once a live node's heartbeat lists it (a node beats
 * early, within 250 ms, after a job starts). Works for nodes in this process and spawned ones.
 */
export async function runningPid(j: Jobs, jobId: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await j.redis.zrangebyscore(j.keys.nodes, Date.now() - 60_000, '+inf');
    const beats = nodes.length > 0 ? await j.redis.mget(...nodes.map((node) => j.keys.node(node))) : [];
    for (const beat of beats) {
      if (!beat) continue;
      const { processes = [] } = JSON.parse(beat) as { processes?: BeatProcess[] };
      const found = processes.find((p) => p.jobId === jobId);
      if (found) return found.pid;
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A private redis-server for the test file and a Jobs handle on it (read `.j` inside tests). */
export function useJobs(options: RedisServerOptions = {}): {
  readonly redis: ReturnType<typeof useRedisServer>;
  readonly j: Jobs;
} {
  const redis = useRedisServer(options);
  let handle: Jobs | undefined;
  beforeAll(async () => {
    handle = await jobs(redis.server.url);
  });
  afterAll(async () => {
    await handle?.close();
  });
  return {
    redis,
    get j(): Jobs {
      if (!handle) throw new Error('useJobs: the handle is available inside tests, after beforeAll.');
      return handle;
    },
  };
}

/** Polls `condition` until it holds (for states only visible by asking: Redis counts, HTTP probes). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
