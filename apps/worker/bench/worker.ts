import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { BUILTIN_TENANT, FunctionRegistry, type JobData, Keys, QUEUE_NAME } from '@beamline/jobs';
import { functionModule, Node, Scheduler } from '@beamline/runtime';
import { RedisServer } from '@beamline/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import type { WorkerConfig } from '../src/config.js';
import { WorkerNode } from '../src/worker-node.js';
import { benchConfig, CONCURRENCY, PREFIX, QUEUE_PREFIX } from './config.js';

/**
 * No-op jobs per second through one Beamline worker node (every job an isolated process),
 * against a plain BullMQ Worker and a sandboxed one (worker threads) at the same concurrency on
 * the same private Redis, alternating; the same with 1, 2 and 4 consumer processes (Beamline worker
 * nodes against plain BullMQ Workers, each consumer its own OS process: bench/consumer.ts), to see
 * where adding consumers stops paying; and the latency of cancelling a running job.
 */

const quick = process.argv.includes('--quick');
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const JOBS = Number(process.env.BENCH_JOBS ?? (quick ? 5000 : 20000));
/** Jobs each consumer runs before the window opens: sandboxes, threads and hot paths are warm, start-up is not counted. */
const WARMUP = 500;
const CANCELS = quick ? 20 : 50;
const CONSUMERS = [1, 2, 4];
const consumers = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of consumers) child.kill('SIGKILL');
});

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

type Fill = (count: number, offset: number) => Promise<void>;

async function fill(queue: Queue, data: (i: number) => unknown, opts: object, count: number, offset: number) {
  for (let start = 0; start < count; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
      name: 'noop',
      data: data(offset + start + i),
      opts,
    }));
    await queue.addBulk(batch);
  }
}

async function completedAtLeast(queue: Queue, count: number): Promise<void> {
  for (;;) {
    const { completed = 0, failed = 0 } = await queue.getJobCounts('completed', 'failed');
    if (failed > 0) {
      const [job] = await queue.getFailed(0, 0);
      throw new Error(`${failed} benchmark jobs failed, the first: ${job?.failedReason}`);
    }
    if (completed >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Jobs per second in the steady state: the consumer starts and runs WARMUP jobs; then, with the
 * queue paused, JOBS are added, and the clock runs from resume until all are completed.
 */
async function measure(
  queue: Queue,
  fillWith: Fill,
  start: () => Promise<{ stop(): Promise<void> }>,
  warmUp = WARMUP,
): Promise<number> {
  const consumer = await start();
  await fillWith(warmUp, JOBS);
  await completedAtLeast(queue, warmUp);
  await queue.pause();
  await fillWith(JOBS, 0);
  const begin = performance.now();
  await queue.resume();
  await completedAtLeast(queue, warmUp + JOBS);
  const seconds = (performance.now() - begin) / 1000;
  await consumer.stop();
  await queue.obliterate({ force: true });
  return JOBS / seconds;
}

/**
 * No-op isolated processes per second through the runtime alone: a scheduler with CONCURRENCY
 * sandboxes, CONCURRENCY runs in flight, no Redis and no BullMQ. The bound on what a worker node
 * can reach while every job is a process in its own sandbox.
 */
async function runtimeAlone(): Promise<number> {
  const node = new Node();
  const scheduler = new Scheduler(node, { maxProcesses: CONCURRENCY, prestart: CONCURRENCY });
  const echo = functionModule('export default async (input) => input;', 'echo');
  const lanes = async (jobs: number) => {
    const lane = async () => {
      for (let i = 0; i < jobs / CONCURRENCY; i++) await scheduler.run(echo, i);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  };
  try {
    await lanes(WARMUP);
    const begin = performance.now();
    await lanes(JOBS);
    return JOBS / ((performance.now() - begin) / 1000);
  } finally {
    await scheduler.close();
  }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const redisServer = await RedisServer.start();
  const connection = { url: redisServer.url, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
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
  const config = benchConfig(redisServer.url);
  const logger: Logger = pino({ level: 'silent' });
  const rates = {
    beamline: [] as number[],
    beamlineMax: [] as number[],
    plain: [] as number[],
    sandboxed: [] as number[],
    runtimeAlone: [] as number[],
    bullmqRuntime: [] as number[],
    bullmqChildren: [] as number[],
    bullmqChildrenQueued: [] as number[],
  };
  for (let run = 0; run < RUNS; run++) {
    const fillNormal: Fill = (count, offset) =>
      fill(queue, beamlineData, { priority: 2, removeOnComplete: false }, count, offset);
    rates.beamline.push(
      await measure(queue, fillNormal, async () => {
        const node = await WorkerNode.start(config, logger);
        return { stop: () => node.stop() };
      }),
    );
    const fillMax: Fill = (count, offset) => fill(queue, beamlineData, { removeOnComplete: false }, count, offset);
    rates.beamlineMax.push(
      await measure(queue, fillMax, async () => {
        const node = await WorkerNode.start(config, logger);
        return { stop: () => node.stop() };
      }),
    );
    const fillPlain: Fill = (count, offset) => fill(queue, (i) => i, { removeOnComplete: false }, count, offset);
    rates.plain.push(
      await measure(queue, fillPlain, async () => {
        const worker = new Worker(QUEUE_NAME, async (job) => job.data, {
          connection,
          prefix: QUEUE_PREFIX,
          concurrency: CONCURRENCY,
        });
        return { stop: () => worker.close() };
      }),
    );
    rates.sandboxed.push(
      await measure(queue, fillPlain, async () => {
        const worker = new Worker(QUEUE_NAME, new URL('../../bench/noop-processor.js', import.meta.url), {
          connection,
          prefix: QUEUE_PREFIX,
          concurrency: CONCURRENCY,
          useWorkerThreads: true,
        });
        return { stop: () => worker.close() };
      }),
    );
    rates.runtimeAlone.push(await runtimeAlone());
    rates.bullmqRuntime.push(await measure(queue, fillNormal, async () => bullmqThroughRuntime(connection)));
    rates.bullmqChildren.push(
      await measure(queue, fillNormal, async () => bullmqThroughChildren(connection, CONCURRENCY)),
    );
    rates.bullmqChildrenQueued.push(
      await measure(queue, fillNormal, async () => bullmqThroughChildren(connection, availableParallelism())),
    );
    console.log(
      `run ${run + 1}/${RUNS}:`,
      Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v.at(-1) ?? 0)])),
    );
  }

  const scaling = await scalingRuns(queue, beamlineData, redisServer.url);
  const cancelLatencies = await cancelLatency(config, logger, redis, keys);
  await queue.close();
  redis.disconnect();
  await redisServer.stop();

  const beamline = summarize(rates.beamline);
  const beamlineMax = summarize(rates.beamlineMax);
  const plain = summarize(rates.plain);
  const sandboxed = summarize(rates.sandboxed);
  const runtime = summarize(rates.runtimeAlone);
  const bullmqRuntime = summarize(rates.bullmqRuntime);
  const bullmqChildren = summarize(rates.bullmqChildren);
  const bullmqChildrenQueued = summarize(rates.bullmqChildrenQueued);
  const p50 = percentile(cancelLatencies, 50);
  const p99 = percentile(cancelLatencies, 99);
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    node: process.version,
    runs: RUNS,
    jobs: JOBS,
    concurrency: CONCURRENCY,
    loadavg: loadAtStart,
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
    `| sandboxed BullMQ Worker (worker threads) | ${fmt(sandboxed)} | ${(beamline.median / sandboxed.median).toFixed(2)}× | ≥ 2.5× | ${beamline.median / sandboxed.median >= 2.5 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| the runtime alone (scheduler and sandboxes, no Redis, no BullMQ) | ${fmt(runtime)} | ${(runtime.median / plain.median).toFixed(2)}× plain | — | — |`,
  );
  console.log(
    `| a plain BullMQ Worker whose processor runs each job through the runtime (no worker layer: no supervisor, admission, limits, output, metrics) | ${fmt(bullmqRuntime)} | ${(bullmqRuntime.median / plain.median).toFixed(2)}× plain; Beamline ${(beamline.median / bullmqRuntime.median).toFixed(2)}× of it | — | — |`,
  );
  console.log(
    `| a plain BullMQ Worker whose processor echoes each job's data through one of ${CONCURRENCY} child processes, one job each at a time (a line written to a pipe, a line read back: the least a job in a process of its own costs; no runtime, no limits) | ${fmt(bullmqChildren)} | ${(bullmqChildren.median / plain.median).toFixed(2)}× plain; Beamline ${(beamline.median / bullmqChildren.median).toFixed(2)}× of it | — | — |`,
  );
  console.log(
    `| the same through ${availableParallelism()} child processes (one per core), jobs queued to each: a child finds its next job already written | ${fmt(bullmqChildrenQueued)} | ${(bullmqChildrenQueued.median / plain.median).toFixed(2)}× plain | — | — |`,
  );
  console.log(
    `| cancel → running job's process gone (${cancelLatencies.length} cancels) | p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms | — | p99 ≤ 100 ms | ${p99 <= 100 ? 'yes' : 'no'} |`,
  );
  console.log(
    `\nConsumer processes (each its own OS process, concurrency ${CONCURRENCY} each), jobs/s, median (min–max) of ${RUNS} runs\n`,
  );
  console.log(
    '| consumers | Beamline worker nodes | × 1 consumer | plain BullMQ Workers | × 1 consumer | Beamline / plain |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const k of CONSUMERS) {
    const b = summarize(scaling[`beamline-${k}`] ?? []);
    const p = summarize(scaling[`plain-${k}`] ?? []);
    const b1 = summarize(scaling['beamline-1'] ?? []).median;
    const p1 = summarize(scaling['plain-1'] ?? []).median;
    console.log(
      `| ${k} | ${fmt(b)} | ${(b.median / b1).toFixed(2)}× | ${fmt(p)} | ${(p.median / p1).toFixed(2)}× | ${(b.median / p.median).toFixed(2)}× |`,
    );
  }
  writeFileSync(
    new URL('../../bench/results.json', import.meta.url),
    `${JSON.stringify({ machine, rates, scaling, cancelLatenciesMs: cancelLatencies }, null, 2)}\n`,
  );
}

/**
 * A plain BullMQ Worker whose processor runs each job's input through `scheduler.run` (one
 * isolated process per job, as on a worker node) and nothing else: what BullMQ and the runtime
 * cost together, without the worker node's own layer.
 */
async function bullmqThroughRuntime(connection: { url: string; maxRetriesPerRequest: null }) {
  const node = new Node();
  const scheduler = new Scheduler(node, { maxProcesses: CONCURRENCY, prestart: CONCURRENCY });
  const echo = functionModule('export default async (input) => input;', 'echo');
  const worker = new Worker<JobData>(QUEUE_NAME, async (job) => (await scheduler.run(echo, job.data.input)).result, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency: CONCURRENCY,
  });
  return {
    stop: async () => {
      await worker.close();
      await scheduler.close();
    },
  };
}

/** A child process (bench/echo-child.js) that answers each line written to it with the same line, in order. */
function echoChild(script: string) {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdout?.setEncoding('utf8');
  const pending: Array<(line: string) => void> = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      pending.shift()?.(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  const ask = (line: string) =>
    new Promise<string>((resolve) => {
      pending.push(resolve);
      child.stdin?.write(`${line}\n`);
    });
  return { child, pending, ask };
}

/**
 * A plain BullMQ Worker whose processor writes each job's data as a line to a child process
 * (bench/echo-child.js) and returns the line it reads back: the floor of running every job in a
 * process of its own, with nothing else. `children`: CONCURRENCY, each holding one job at a time
 * (as a sandbox does); or fewer, each taking jobs queued one after another (the one with the
 * fewest waiting), so that a child finds its next job already written when it ends one.
 */
async function bullmqThroughChildren(connection: { url: string; maxRetriesPerRequest: null }, children: number) {
  const script = new URL('../../bench/echo-child.js', import.meta.url).pathname;
  const all = Array.from({ length: children }, () => echoChild(script));
  const worker = new Worker<JobData>(
    QUEUE_NAME,
    async (job) => {
      const least = all.reduce((a, b) => (b.pending.length < a.pending.length ? b : a));
      return (JSON.parse(await least.ask(JSON.stringify(job.data))) as JobData).input;
    },
    { connection, prefix: QUEUE_PREFIX, concurrency: CONCURRENCY },
  );
  return {
    stop: async () => {
      await worker.close();
      for (const { child } of all) child.kill();
    },
  };
}

/** Starts one consumer process (bench/consumer.ts) and resolves once it consumes. */
function startConsumer(kind: 'beamline' | 'plain', redisUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [new URL('./consumer.js', import.meta.url).pathname, kind, redisUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  consumers.add(child);
  child.once('exit', () => consumers.delete(child));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${kind} consumer exited ${code}`)));
  });
}

/**
 * Jobs/s with K consumer processes on one queue, K = 1, 2, 4, Beamline and plain BullMQ
 * alternating, each measured as `measure` does (a warm-up of WARMUP jobs per process first), with
 * the same job data and options for both.
 */
async function scalingRuns(
  queue: Queue,
  beamlineData: (i: number) => JobData,
  redisUrl: string,
): Promise<Record<string, number[]>> {
  const rates = Object.fromEntries(
    CONSUMERS.flatMap((k) => [`beamline-${k}`, `plain-${k}`]).map((key) => [key, [] as number[]]),
  );
  for (const k of CONSUMERS) {
    for (let run = 0; run < RUNS; run++) {
      for (const kind of ['beamline', 'plain'] as const) {
        const fillNormal: Fill = (count, offset) =>
          fill(queue, beamlineData, { priority: 2, removeOnComplete: false }, count, offset);
        const rate = await measure(
          queue,
          fillNormal,
          async () => {
            const started = await Promise.all(Array.from({ length: k }, () => startConsumer(kind, redisUrl)));
            const stop = async () => {
              await Promise.all(
                started.map((child) => {
                  const exited = new Promise((resolve) => child.once('exit', resolve));
                  child.kill('SIGTERM');
                  return exited;
                }),
              );
            };
            return { stop };
          },
          WARMUP * k,
        );
        rates[`${kind}-${k}`]?.push(rate);
      }
    }
    console.log(
      `${k} consumer process(es):`,
      Object.fromEntries(
        Object.entries(rates)
          .filter(([key]) => key.endsWith(`-${k}`))
          .map(([key, v]) => [key, Math.round(v.at(-1) ?? 0)]),
      ),
    );
  }
  return rates;
}

/**
 * ms from JobStore.cancel to the running job's process being gone, one loop job at a time. The
 * job's pid is read from the node's heartbeat (it lists its processes within 250 ms of a start).
 */
async function cancelLatency(config: WorkerConfig, logger: Logger, redis: Redis, keys: Keys): Promise<number[]> {
  const node = await WorkerNode.start(config, logger);
  const pidOf = async (jobId: string): Promise<string> => {
    for (;;) {
      const beat = await redis.get(keys.node(node.nodeId));
      const processes = beat ? ((JSON.parse(beat) as { processes?: BeatProcess[] }).processes ?? []) : [];
      const pid = processes.find((p) => p.jobId === jobId)?.pid;
      if (pid) return pid;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  const latencies: number[] = [];
  try {
    for (let i = 0; i < CANCELS; i++) {
      const { job } = await node.store.submit({ function: 'loop', attempts: 1 }, 'default');
      const gone = node.node.waitExit(await pidOf(job.id));
      const start = performance.now();
      await node.store.cancel(job.id, 'default');
      await gone;
      latencies.push(performance.now() - start);
    }
  } finally {
    await node.stop();
  }
  return latencies;
}

/** A job process as a worker node's heartbeat lists it. */
interface BeatProcess {
  readonly pid: string;
  readonly jobId?: string;
}

await main();
