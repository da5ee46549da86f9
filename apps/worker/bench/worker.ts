import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { BUILTIN_TENANT, FunctionRegistry, type JobData, Keys, QUEUE_NAME } from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { WorkerNode } from '../src/worker-node.js';

/**
 * No-op jobs per second through one Beamline worker node (every job an isolated process),
 * against a plain BullMQ Worker and a sandboxed one (worker threads) at the same concurrency on
 * the same private Redis, alternating; and the latency of cancelling a running job.
 */

const quick = process.argv.includes('--quick');
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const JOBS = Number(process.env.BENCH_JOBS ?? (quick ? 2000 : 5000));
const CONCURRENCY = 16;
const CANCELS = quick ? 20 : 50;
const PREFIX = 'bench';

interface Summary {
  median: number;
  min: number;
  max: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function fill(queue: Queue, data: (i: number) => unknown, opts: object): Promise<void> {
  for (let start = 0; start < JOBS; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, JOBS - start) }, (_, i) => ({
      name: 'noop',
      data: data(start + i),
      opts,
    }));
    await queue.addBulk(batch);
  }
}

async function completedAll(queue: Queue): Promise<void> {
  for (;;) {
    const { completed = 0, failed = 0 } = await queue.getJobCounts('completed', 'failed');
    if (failed > 0) throw new Error(`${failed} benchmark jobs failed`);
    if (completed >= JOBS) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Jobs per second: the queue is filled first, then the consumer starts and drains it. */
async function measure(queue: Queue, start: () => Promise<{ stop(): Promise<void> }>): Promise<number> {
  const begin = performance.now();
  const consumer = await start();
  await completedAll(queue);
  const seconds = (performance.now() - begin) / 1000;
  await consumer.stop();
  await queue.obliterate({ force: true });
  return JOBS / seconds;
}

async function main(): Promise<void> {
  const redisServer = await RedisServer.start();
  const connection = { url: redisServer.url, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE_NAME, { connection, prefix: PREFIX });
  const redis = new Redis(redisServer.url);
  const keys = new Keys(PREFIX);
  const echo = await new FunctionRegistry(redis, keys).deploy(
    BUILTIN_TENANT,
    'echo',
    'export default async (input) => input;',
    {},
    { builtin: true },
  );
  const beamlineData = (i: number): JobData => ({
    function: 'echo',
    version: echo.version,
    sha256: echo.sha256,
    functionTenant: BUILTIN_TENANT,
    tenant: 'default',
    input: i,
    limits: {},
    priority: 'normal',
    restart: 'transient',
    submittedAt: Date.now(),
  });
  const config = loadConfig({
    REDIS_URL: redisServer.url,
    METRICS_PORT: '0',
    BEAMLINE_PREFIX: PREFIX,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    // Every bench job is one tenant's: single-tenant throughput at the baselines' concurrency
    // (the default per-tenant cap is 3/4 of WORKER_CONCURRENCY).
    TENANT_MAX_RUNNING_PER_NODE: String(CONCURRENCY),
    LOG_LEVEL: 'silent',
  });
  const logger: Logger = pino({ level: 'silent' });
  const rates = {
    beamline: [] as number[],
    beamlineMax: [] as number[],
    plain: [] as number[],
    sandboxed: [] as number[],
  };
  for (let run = 0; run < RUNS; run++) {
    await fill(queue, beamlineData, { priority: 2, removeOnComplete: false });
    rates.beamline.push(
      await measure(queue, async () => {
        const node = await WorkerNode.start(config, logger);
        return { stop: () => node.stop() };
      }),
    );
    await fill(queue, beamlineData, { removeOnComplete: false });
    rates.beamlineMax.push(
      await measure(queue, async () => {
        const node = await WorkerNode.start(config, logger);
        return { stop: () => node.stop() };
      }),
    );
    await fill(queue, (i) => i, { removeOnComplete: false });
    rates.plain.push(
      await measure(queue, async () => {
        const worker = new Worker(QUEUE_NAME, async (job) => job.data, {
          connection,
          prefix: PREFIX,
          concurrency: CONCURRENCY,
        });
        return { stop: () => worker.close() };
      }),
    );
    await fill(queue, (i) => i, { removeOnComplete: false });
    rates.sandboxed.push(
      await measure(queue, async () => {
        const worker = new Worker(QUEUE_NAME, new URL('../../bench/noop-processor.js', import.meta.url), {
          connection,
          prefix: PREFIX,
          concurrency: CONCURRENCY,
          useWorkerThreads: true,
        });
        return { stop: () => worker.close() };
      }),
    );
    console.log(
      `run ${run + 1}/${RUNS}:`,
      Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v.at(-1) ?? 0)])),
    );
  }

  const cancelLatencies = await cancelLatency(config, logger, queue, redis, keys);
  await queue.close();
  redis.disconnect();
  await redisServer.stop();

  const beamline = summarize(rates.beamline);
  const beamlineMax = summarize(rates.beamlineMax);
  const plain = summarize(rates.plain);
  const sandboxed = summarize(rates.sandboxed);
  const p50 = percentile(cancelLatencies, 50);
  const p99 = percentile(cancelLatencies, 99);
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    node: process.version,
    runs: RUNS,
    jobs: JOBS,
    concurrency: CONCURRENCY,
  };
  const fmt = (s: Summary) => `${Math.round(s.median)} jobs/s (${Math.round(s.min)}–${Math.round(s.max)})`;
  console.log(
    `\nWorker node — ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, ${RUNS} runs of ${JOBS} no-op jobs, concurrency ${CONCURRENCY}\n`,
  );
  console.log('| measure | figure | ratio | target | met |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(
    `| Beamline worker node, normal priority (every job an isolated process) | ${fmt(beamline)} | — | — | — |`,
  );
  console.log(`| Beamline worker node, max priority (BullMQ wait list) | ${fmt(beamlineMax)} | — | — | — |`);
  console.log(
    `| plain BullMQ Worker (in-process no-op) | ${fmt(plain)} | ${(beamline.median / plain.median).toFixed(2)}× | ≥ 0.8× | ${beamline.median / plain.median >= 0.8 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| sandboxed BullMQ Worker (worker threads) | ${fmt(sandboxed)} | ${(beamline.median / sandboxed.median).toFixed(2)}× | ≥ 3× | ${beamline.median / sandboxed.median >= 3 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| cancel → running job's process gone (${cancelLatencies.length} cancels) | p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms | — | p99 ≤ 100 ms | ${p99 <= 100 ? 'yes' : 'no'} |`,
  );
  writeFileSync(
    new URL('../../bench/results.json', import.meta.url),
    `${JSON.stringify({ machine, rates, cancelLatenciesMs: cancelLatencies }, null, 2)}\n`,
  );
}

/** ms from JobClient.cancel to the running job's process being gone, one loop job at a time. */
async function cancelLatency(
  config: ReturnType<typeof loadConfig>,
  logger: Logger,
  queue: Queue,
  redis: Redis,
  keys: Keys,
): Promise<number[]> {
  const { ControlPublisher, JobClient } = await import('@beamline/jobs');
  const client = new JobClient(
    queue,
    new FunctionRegistry(redis, keys),
    redis,
    keys,
    new ControlPublisher(redis, keys),
  );
  const node = await WorkerNode.start(config, logger);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < CANCELS; i++) {
      const job = await client.submit({ function: 'loop', attempts: 1 });
      let running: string | null = null;
      while (!running) {
        running = await redis.hget(keys.running, job.id as string);
        if (!running) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const pid = (JSON.parse(running) as { pid: string }).pid;
      const gone = node.node.waitExit(pid);
      const start = performance.now();
      await client.cancel(job.id as string, 'bench.0');
      await gone;
      latencies.push(performance.now() - start);
    }
  } finally {
    await node.stop();
  }
  return latencies;
}

await main();
