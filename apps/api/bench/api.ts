import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { QUEUE_NAME } from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startApi } from '../src/server.js';

/**
 * Submissions per second through the API (one job per request over keep-alive, and batches;
 * the HTTP client runs in its own process)
 * against BullMQ's Queue.add and addBulk on the same private Redis, alternating; and the
 * latency from submission to result of a no-op job through a worker node.
 */

const quick = process.argv.includes('--quick');
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const SINGLE = quick ? 2000 : 5000;
const BATCHES = quick ? 10 : 20;
const BATCH = 500;
const CONCURRENCY = 16;
const LATENCY_JOBS = quick ? 100 : 300;
const KEY = 'bench-key-0123456789abcdef';

const summarize = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] as number,
    min: sorted[0] as number,
    max: sorted.at(-1) as number,
  };
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

async function parallel(count: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const prefix = 'beamline';
  const connection = { url: redis.url, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE_NAME, { connection, prefix });
  const api = await startApi(
    loadConfig({
      REDIS_URL: redis.url,
      PORT: '0',
      HOST: '127.0.0.1',
      BEAMLINE_API_KEYS: `${KEY}:bench`,
      LOG_LEVEL: 'silent',
      TENANT_BACKLOG_CAP: '100000000',
    }),
    pino({ level: 'silent' }),
  );
  const worker = await startWorkerProcess(redis.url);
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${api.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (response.status !== 202) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<{ id: string }>;
  };
  // No worker takes these: the queue is paused while submissions are measured.
  await queue.pause();
  const rates = { api: [] as number[], add: [] as number[], apiBatch: [] as number[], addBulk: [] as number[] };
  const job = { function: 'echo', input: { n: 1 } };
  for (let run = 0; run < RUNS; run++) {
    rates.api.push(await loadFromOtherProcess(api.url, 'single', SINGLE, 1));
    rates.add.push(await parallel(SINGLE, () => queue.add('echo', job, { priority: 2 })));
    rates.apiBatch.push(await loadFromOtherProcess(api.url, 'batch', BATCHES, BATCH));
    rates.addBulk.push(
      (await parallel(BATCHES, () =>
        queue.addBulk(Array.from({ length: BATCH }, () => ({ name: 'echo', data: job, opts: { priority: 2 } }))),
      )) * BATCH,
    );
    await queue.obliterate({ force: true });
    console.log(
      `run ${run + 1}/${RUNS}:`,
      Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v.at(-1) ?? 0)])),
    );
  }
  await queue.resume();

  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_JOBS; i++) {
    const start = performance.now();
    const { id } = await post('/v1/jobs', job);
    const done = await fetch(`${api.url}/v1/jobs/${id}/wait?timeoutMs=10000`, { headers });
    if (done.status !== 200) throw new Error(`job ${id} did not end: ${done.status}`);
    latencies.push(performance.now() - start);
  }
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await api.close();
  await queue.close();
  await redis.stop();

  const s = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, summarize(v)])) as Record<
    keyof typeof rates,
    ReturnType<typeof summarize>
  >;
  const fmt = (x: ReturnType<typeof summarize>) =>
    `${Math.round(x.median)} jobs/s (${Math.round(x.min)}–${Math.round(x.max)})`;
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    node: process.version,
    runs: RUNS,
    concurrency: CONCURRENCY,
  };
  console.log(
    `\nAPI — ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, ${RUNS} runs, ${CONCURRENCY} concurrent clients\n`,
  );
  console.log('| measure | figure | baseline, same run | ratio | target | met |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const singleRatio = s.api.median / s.add.median;
  const batchRatio = s.apiBatch.median / s.addBulk.median;
  console.log(
    `| POST /v1/jobs, one job per request (keep-alive) | ${fmt(s.api)} | Queue.add: ${fmt(s.add)} | ${singleRatio.toFixed(2)}× | ≥ 0.7× | ${singleRatio >= 0.7 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| POST /v1/jobs/batch, ${BATCH} per request | ${fmt(s.apiBatch)} | addBulk: ${fmt(s.addBulk)} | ${batchRatio.toFixed(2)}× | ≥ 0.8× | ${batchRatio >= 0.8 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| submit → result, no-op job (${LATENCY_JOBS} sequential) | p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms | — | — | — | — |`,
  );
  writeFileSync(
    new URL('../../bench/results.json', import.meta.url),
    `${JSON.stringify({ machine, rates, latenciesMs: latencies }, null, 2)}\n`,
  );
}

/** Jobs/s accepted by the API, with the HTTP client in its own process (as real clients are). */
function loadFromOtherProcess(url: string, mode: 'single' | 'batch', count: number, batch: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      new URL('../../bench/client.js', import.meta.url).pathname,
      url,
      KEY,
      mode,
      String(count),
      String(CONCURRENCY),
      String(batch),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve((JSON.parse(output) as { rate: number }).rate) : reject(new Error(`client exited ${code}`)),
    );
  });
}

function startWorkerProcess(redisUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [new URL('../../../worker/dist/main.js', import.meta.url).pathname], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      // One tenant: its cap per node equal to the concurrency (by default it is 3/4 of it).
      WORKER_CONCURRENCY: String(CONCURRENCY),
      TENANT_MAX_RUNNING_PER_NODE: String(CONCURRENCY),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker node started')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
  });
}

await main();
