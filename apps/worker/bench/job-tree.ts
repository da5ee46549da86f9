import { ControlPublisher, FunctionRegistry, JobStore, Keys } from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { WorkerNode } from '../src/worker-node.js';
import { benchConfig, CONCURRENCY, PREFIX } from './config.js';

/**
 * A tree of CHILDREN children on one worker node (ADR 0013): one parent starts them all with
 * ctx.startJob and awaits every result. Reports the time from submission to the parent's end, the
 * slots the tree used at most (the parent holds one while it waits), and the Redis commands it
 * cost, against the same number of ordinary jobs submitted in one batch over the store.
 */

const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 1000);
const TENANT = 'bench';

const server = await RedisServer.start();
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
const keys = new Keys(PREFIX);
const store = new JobStore(redis, keys, new FunctionRegistry(redis, keys), new ControlPublisher(redis, keys));
const worker = await WorkerNode.start(benchConfig(server.url), pino({ level: 'silent' }));
await new FunctionRegistry(redis, keys).deploy(
  TENANT,
  'fan-out',
  `export default async ({ n }, ctx) => {
    const children = await Promise.all(Array.from({ length: n }, (_, i) => ctx.startJob('echo', i)));
    const results = await Promise.all(children.map((c) => ctx.awaitJob(c)));
    return results.length;
  };`,
);

async function commandsProcessed(): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
}

async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function measure(label: string, submit: () => Promise<() => Promise<boolean>>): Promise<void> {
  let mostLive = 0;
  const sampler = setInterval(() => {
    mostLive = Math.max(mostLive, worker.scheduler.stats().live);
  }, 5);
  const before = await commandsProcessed();
  const started = performance.now();
  const done = await submit();
  await until(done);
  const ms = performance.now() - started;
  clearInterval(sampler);
  const commands = (await commandsProcessed()) - before;
  console.log(
    JSON.stringify({
      label,
      jobs: CHILDREN,
      ms: Math.round(ms),
      jobsPerSecond: Math.round((CHILDREN / ms) * 1000),
      mostLive,
      concurrency: CONCURRENCY,
      redisCommands: commands,
      redisCommandsPerJob: +(commands / CHILDREN).toFixed(1),
    }),
  );
}

// Warm the sandbox pool for both functions first.
const warm = await store.submit({ function: 'echo', input: 0 }, TENANT);
await until(async () => (await store.get(warm.job.id))?.state === 'completed');

await measure('tree: one parent, ctx.startJob × N, awaitJob × N', async () => {
  const { job } = await store.submit({ function: 'fan-out', input: { n: CHILDREN }, timeoutMs: 600_000 }, TENANT);
  return async () => {
    const view = await store.get(job.id);
    if (view?.state === 'failed') throw new Error(JSON.stringify(view.exit));
    return view?.state === 'completed';
  };
});

await measure('flat: N ordinary jobs, one submitMany batch', async () => {
  const jobs = await store.submitMany(
    Array.from({ length: CHILDREN }, (_, i) => ({ function: 'echo', input: i })),
    TENANT,
  );
  const last = jobs.map((j) => j.id);
  return async () =>
    (await store.backlog(TENANT)) === 0 && (await store.get(last.at(-1) as string))?.state === 'completed';
});

await worker.stop();
await store.close();
redis.disconnect();
await server.stop();
