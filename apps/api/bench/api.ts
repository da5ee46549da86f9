import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { BUILTIN_TENANT, FunctionRegistry, Keys, QUEUE_NAME } from '@beamline/jobs';
import { freePort, RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * Submissions per second through the API, measured with autocannon (16 connections, keep-alive,
 * no pipelining; of each run only a fixed window after a warm-up on the same connections counts),
 * against baselines in the same run, each on a fresh private Redis, alternating: a minimal Hono app that validates with zod and calls
 * Queue.add / addBulk (its own process, as the API), Queue.add / addBulk called directly at 16 in
 * flight (no HTTP), and a bare Hono GET /healthz (the HTTP ceiling). The load generator runs in a
 * process of its own, apart from the server under test: on 2 cores, server, client and Redis each
 * get a process and the OS shares the cores between them. Only 202 responses count as jobs.
 * For each measure also the CPU the server process (for the direct calls: the calling process)
 * and Redis spent per job. Then the latency from submission to result of a no-op job through a
 * worker node.
 */

const quick = process.argv.includes('--quick');
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const SECONDS = quick ? 2 : 5;
const WARMUP_SECONDS = quick ? 1 : 2;
const CONNECTIONS = 16;
const BATCH = 500;
const LATENCY_JOBS = quick ? 100 : 300;
/** Jobs through the idle node before the latency is measured: its sandboxes and hot paths are warm, as in every other bench. */
const LATENCY_WARMUP = 30;
/** `--latency`: only the submit → result measure, printed, nothing written (for working on it). */
const latencyOnly = process.argv.includes('--latency');
const KEY = 'bench-key-0123456789abcdef';
const PREFIX = 'beamline';
const JOB = { function: 'echo', input: { n: 1 } };

type Target = 'api' | 'hono' | 'add' | 'healthz' | 'apiBatch' | 'honoBatch' | 'addBulk';
/** Alternating: every Beamline measure beside its baselines, in every run. */
const ORDER: Target[] = ['api', 'hono', 'add', 'healthz', 'apiBatch', 'honoBatch', 'addBulk'];

interface Sample {
  /** Jobs accepted per second (for healthz: requests answered per second). */
  rate: number;
  non2xx: number;
  errors: number;
  /** CPU µs per job of the server process (for add/addBulk: of the process calling BullMQ). */
  serverCpuUs: number;
  redisCpuUs: number;
  /** Response time over HTTP, p50 and p99, ms (none for direct calls). */
  latencyMs?: { p50: number | null; p99: number | null };
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `node <script> <args>` and resolves once its output contains `ready`. */
function launch(script: URL, args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script.pathname, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      if (output.includes(ready)) resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script.pathname} exited ${code}:\n${output}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The Beamline API in its own process (dist-bench/src/main.js, compiled from src by this bench). */
async function startApiProcess(redisUrl: string, port: number): Promise<ChildProcess> {
  const redis = new Redis(redisUrl);
  const source = readFileSync(new URL('../../../worker/functions/echo.js', import.meta.url), 'utf8');
  await new FunctionRegistry(redis, new Keys(PREFIX)).deploy(BUILTIN_TENANT, 'echo', source, {}, { builtin: true });
  redis.disconnect();
  return launch(
    new URL('../src/main.js', import.meta.url),
    [],
    {
      REDIS_URL: redisUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      BEAMLINE_PREFIX: PREFIX,
      BEAMLINE_API_KEYS: `${KEY}:bench`,
      LOG_LEVEL: 'info',
      TENANT_BACKLOG_CAP: '100000000',
    },
    'API listening',
  );
}

interface Window {
  /** Responses (or, for direct calls, calls) completed in the measured window, by status code. */
  statusCodes: Record<string, number>;
  seconds: number;
  non2xx: number;
  errors: number;
  latencyMs?: { p50: number | null; p99: number | null };
}

/**
 * Runs autocannon in its own process (bench/client.js): a warm-up, then the measured window on
 * the same connections; `mark` is called as the window opens and as it closes.
 */
function load(options: object, mark: () => void): Promise<Window> {
  const child = spawn(
    process.execPath,
    [
      new URL('../../bench/client.js', import.meta.url).pathname,
      JSON.stringify({ ...options, warmupSeconds: WARMUP_SECONDS, seconds: SECONDS }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (let newline = output.indexOf('\n'); newline >= 0; newline = output.indexOf('\n')) {
      const line = output.slice(0, newline);
      if (line !== 'measuring' && line !== 'measured') break;
      mark();
      output = output.slice(newline + 1);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(output) as Window) : reject(new Error(`autocannon exited ${code}`)),
    );
  });
}

/** Queue.add (batch 1) or addBulk at CONNECTIONS calls in flight, counted as the load generator counts responses. */
async function direct(queue: Queue, batch: number, mark: () => void): Promise<Window> {
  let phase: 'warm-up' | 'measuring' | 'done' = 'warm-up';
  let from = 0;
  let to = 0;
  setTimeout(() => {
    mark();
    phase = 'measuring';
    from = performance.now();
  }, WARMUP_SECONDS * 1000);
  setTimeout(
    () => {
      mark();
      phase = 'done';
      to = performance.now();
    },
    (WARMUP_SECONDS + SECONDS) * 1000,
  );
  let calls = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (phase !== 'done') {
        if (batch === 1) await queue.add(JOB.function, JOB, { priority: 2 });
        else
          await queue.addBulk(
            Array.from({ length: batch }, () => ({ name: JOB.function, data: JOB, opts: { priority: 2 } })),
          );
        if (phase === 'measuring') calls++;
      }
    }),
  );
  return { statusCodes: { '202': calls }, seconds: (to - from) / 1000, non2xx: 0, errors: 0 };
}

/** One measure of one target, on a fresh private Redis. */
async function measure(target: Target): Promise<Sample> {
  const redis = await RedisServer.start();
  const perRequest = target.endsWith('Batch') || target === 'addBulk' ? BATCH : 1;
  let server: ChildProcess | undefined;
  // CPU seconds of the server (for direct calls: this process) and of Redis, as the window opens and closes.
  const marks: Array<[number, number]> = [];
  const mark = () => {
    const own = process.cpuUsage();
    const serverCpu = server ? cpuSeconds(server.pid) : (own.user + own.system) / 1e6;
    marks.push([serverCpu, cpuSeconds(redis.pid)]);
  };
  try {
    let window: Window;
    if (target === 'add' || target === 'addBulk') {
      const queue = new Queue(QUEUE_NAME, {
        connection: { url: redis.url, maxRetriesPerRequest: null },
        prefix: PREFIX,
      });
      window = await direct(queue, perRequest, mark);
      await queue.close();
    } else {
      const port = await freePort();
      server = target.startsWith('api')
        ? await startApiProcess(redis.url, port)
        : await launch(
            new URL('./hono-baseline.js', import.meta.url),
            [redis.url, String(port), PREFIX],
            {},
            'listening',
          );
      const path = target === 'healthz' ? '/healthz' : perRequest > 1 ? '/v1/jobs/batch' : '/v1/jobs';
      window = await load(
        {
          url: `http://127.0.0.1:${port}${path}`,
          connections: CONNECTIONS,
          pipelining: 1,
          ...(target === 'healthz'
            ? {}
            : {
                method: 'POST',
                headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
                body: JSON.stringify(perRequest > 1 ? { jobs: Array(perRequest).fill(JOB) } : JOB),
              }),
        },
        mark,
      );
    }
    const ok = window.statusCodes[target === 'healthz' ? '200' : '202'] ?? 0;
    const jobs = Math.max(1, ok * perRequest);
    const [[server0, redis0], [server1, redis1]] = marks as [[number, number], [number, number]];
    return {
      rate: (ok * perRequest) / window.seconds,
      non2xx: window.non2xx,
      errors: window.errors,
      serverCpuUs: ((server1 - server0) / jobs) * 1e6,
      redisCpuUs: ((redis1 - redis0) / jobs) * 1e6,
      ...(window.latencyMs ? { latencyMs: window.latencyMs } : {}),
    };
  } finally {
    if (server) await stop(server);
    await redis.stop();
  }
}

interface SubmitToResult {
  /** POST /v1/jobs, then GET /v1/jobs/{id}/wait: two requests. */
  twoRequests: number[];
  /** POST /v1/jobs with `Prefer: wait=10`: one request. */
  oneRequest: number[];
}

/** ms from submitting a no-op job to holding its result, one job at a time, through a worker node; the two ways alternate. */
async function submitToResult(): Promise<SubmitToResult> {
  const redis = await RedisServer.start();
  const port = await freePort();
  const api = await startApiProcess(redis.url, port);
  const worker = await launch(
    new URL('../../../worker/dist/main.js', import.meta.url),
    [],
    {
      REDIS_URL: redis.url,
      BEAMLINE_PREFIX: PREFIX,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      // One tenant: its cap per node equal to the concurrency (by default it is 3/4 of it).
      WORKER_CONCURRENCY: String(CONNECTIONS),
      TENANT_MAX_RUNNING_PER_NODE: String(CONNECTIONS),
    },
    'worker node started',
  );
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const url = `http://127.0.0.1:${port}`;
  const latencies: SubmitToResult = { twoRequests: [], oneRequest: [] };
  for (let i = 0; i < LATENCY_WARMUP + LATENCY_JOBS; i++) {
    if (i === LATENCY_WARMUP) {
      latencies.oneRequest.length = 0;
      latencies.twoRequests.length = 0;
    }
    const start = performance.now();
    const waited = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { ...headers, prefer: 'wait=10' },
      body: JSON.stringify(JOB),
    });
    if (waited.status !== 200)
      throw new Error(`POST /v1/jobs with Prefer: wait: ${waited.status} ${await waited.text()}`);
    await waited.arrayBuffer();
    latencies.oneRequest.push(performance.now() - start);
    const restart = performance.now();
    const response = await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(JOB) });
    if (response.status !== 202) throw new Error(`POST /v1/jobs: ${response.status} ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    const done = await fetch(`${url}/v1/jobs/${id}/wait?timeoutMs=10000`, { headers });
    if (done.status !== 200) throw new Error(`job ${id} did not end: ${done.status}`);
    await done.arrayBuffer();
    latencies.twoRequests.push(performance.now() - restart);
  }
  await Promise.all([stop(worker), stop(api)]);
  await redis.stop();
  return latencies;
}

const summarize = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return {
    median: ((sorted[Math.ceil(mid) - 1] as number) + (sorted[Math.floor(mid)] as number)) / 2,
    min: sorted[0] as number,
    max: sorted.at(-1) as number,
  };
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  if (latencyOnly) {
    const { oneRequest, twoRequests } = await submitToResult();
    for (const [how, values] of Object.entries({ oneRequest, twoRequests })) {
      console.log(
        how,
        `p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`,
      );
    }
    return;
  }
  const samples = Object.fromEntries(ORDER.map((t) => [t, [] as Sample[]])) as Record<Target, Sample[]>;
  for (let run = 0; run < RUNS; run++) {
    for (const target of ORDER) samples[target].push(await measure(target));
    console.log(
      `run ${run + 1}/${RUNS}:`,
      Object.fromEntries(ORDER.map((t) => [t, Math.round(samples[t].at(-1)?.rate ?? 0)])),
    );
  }
  const latencies = await submitToResult();

  const pick = (key: keyof Sample) =>
    Object.fromEntries(ORDER.map((t) => [t, samples[t].map((s) => s[key])])) as Record<Target, number[]>;
  const rates = pick('rate');
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    node: process.version,
    runs: RUNS,
    connections: CONNECTIONS,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    batch: BATCH,
    loadavg: loadAtStart,
    loadavgAtEnd: loadavg(),
  };
  const s = Object.fromEntries(ORDER.map((t) => [t, summarize(rates[t])])) as Record<
    Target,
    ReturnType<typeof summarize>
  >;
  const cpu = (t: Target) =>
    `${summarize(pick('serverCpuUs')[t]).median.toFixed(0)} / ${summarize(pick('redisCpuUs')[t]).median.toFixed(0)} µs`;
  const non2xx = (t: Target) =>
    pick('non2xx')[t].reduce((a, b) => a + b, 0) + pick('errors')[t].reduce((a, b) => a + b, 0);
  const fmt = (x: ReturnType<typeof summarize>) =>
    `${Math.round(x.median)} (${Math.round(x.min)}–${Math.round(x.max)})`;
  const ratio = (a: Target, b: Target) => {
    const perRun = rates[a].map((r, i) => r / (rates[b][i] as number));
    return `${(s[a].median / s[b].median).toFixed(2)}× (runs ${Math.min(...perRun).toFixed(2)}–${Math.max(...perRun).toFixed(2)})`;
  };
  console.log(
    `\nAPI — ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, load average ${loadAtStart.map((l) => l.toFixed(2)).join(', ')}; ${RUNS} runs, each ${SECONDS} s measured after ${WARMUP_SECONDS} s of warm-up, autocannon ${CONNECTIONS} connections in its own process; median (min–max)\n`,
  );
  console.log(
    '| measure | jobs/s | server / Redis CPU per job | response time p50 / p99 (last run) | non-2xx + errors | Beamline / this |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  const latency = (t: Target) => {
    const last = samples[t].at(-1)?.latencyMs;
    return last ? `${last.p50?.toFixed(1)} / ${last.p99?.toFixed(1)} ms` : '—';
  };
  const row = (label: string, t: Target, beamline: Target) =>
    console.log(
      `| ${label} | ${fmt(s[t])} | ${cpu(t)} | ${latency(t)} | ${non2xx(t)} | ${t === beamline ? '—' : ratio(beamline, t)} |`,
    );
  row('Beamline POST /v1/jobs', 'api', 'api');
  row('Hono + zod + Queue.add', 'hono', 'api');
  row('Queue.add direct, 16 in flight', 'add', 'api');
  row('bare Hono GET /healthz (requests/s)', 'healthz', 'api');
  row(`Beamline POST /v1/jobs/batch, ${BATCH} per request`, 'apiBatch', 'apiBatch');
  row('Hono + zod + addBulk', 'honoBatch', 'apiBatch');
  row('addBulk direct, 16 in flight', 'addBulk', 'apiBatch');
  console.log(
    `| submit → result, no-op job (${LATENCY_JOBS} sequential): POST, then GET …/wait | p50 ${percentile(latencies.twoRequests, 50).toFixed(1)} ms, p99 ${percentile(latencies.twoRequests, 99).toFixed(1)} ms | — | — | — | — |`,
  );
  console.log(
    `| submit → result, no-op job (${LATENCY_JOBS} sequential): one POST with \`Prefer: wait=10\` | p50 ${percentile(latencies.oneRequest, 50).toFixed(1)} ms, p99 ${percentile(latencies.oneRequest, 99).toFixed(1)} ms | — | — | — | — |`,
  );
  writeFileSync(
    new URL('../../bench/results.json', import.meta.url),
    `${JSON.stringify({ machine, rates, samples, latenciesMs: latencies }, null, 2)}\n`,
  );
}

await main();
