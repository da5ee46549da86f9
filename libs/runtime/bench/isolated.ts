import { spawn as spawnChild } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { functionModule, Node, type Pid, type Priority, Scheduler, type SchedulerOptions } from '../src/index.js';
import { childrenOf } from '../src/isolated/os-process.js';
import { fmt, type Row, report, scale } from './report.js';
import { gc, type Summary, summarize } from './stats.js';

/**
 * Isolated-process figures against bare worker threads (and a child process) measured in the
 * same run: warm dispatch, cold start, PSS per live process, timeout-to-gone, slowdown beside
 * hogs by priority, short-job latency beside hogs, and utilization accuracy.
 */

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WARM_INVOCATIONS = 500;
const LIVE_PROCESSES = 20;

const echo = functionModule('export default async (input) => input;', 'echo');
const ponger = functionModule('export default async (_i, ctx) => { for (;;) await ctx.receive(); };', 'idle');
const busyLoop = functionModule('export default async () => { for (;;) {} };', 'busy-loop');
const work = functionModule(
  'export default async ({ iterations }) => { let x = 0; for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i)) % 1e9; return x; };',
  'work',
);
const spin = functionModule(
  'export default async ({ ms }) => { const s = performance.now(); while (performance.now() - s < ms) {} };',
  'spin',
);
const dutyCycle = functionModule(
  `export default async ({ busyMs, idleMs, forMs }, ctx) => {
    const end = performance.now() + forMs;
    let busy = 0;
    while (performance.now() < end) {
      const s = performance.now();
      while (performance.now() - s < busyMs) {}
      busy += performance.now() - s;
      await ctx.sleep(idleMs);
    }
    return busy;
  };`,
  'duty-cycle',
);

const RAW_ECHO =
  "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));";
const RAW_LOOP =
  "const { parentPort } = require('node:worker_threads'); parentPort.postMessage('looping'); for (;;) {}";

function withScheduler<T>(
  options: SchedulerOptions,
  body: (node: Node, scheduler: Scheduler) => Promise<T>,
): Promise<T> {
  const node = new Node({ id: 'bench' });
  const scheduler = new Scheduler(node, options);
  return body(node, scheduler).finally(() => scheduler.close());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (from: number) => performance.now() - from;

/** Proportional set size (shared pages split between their users) of a process and all its descendants. */
function pssOfTree(pid: number = process.pid): number {
  if (pid === process.pid) gc();
  let kb = 0;
  try {
    kb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1] ?? 0);
  } catch {
    return 0;
  }
  return kb * 1024 + childrenOf(pid).reduce((sum, child) => sum + pssOfTree(child), 0);
}

// ── dispatch and start ───────────────────────────────────────────────────────────────────

/** µs per invocation of a no-op function on a warm thread: spawn, run, exit, result back. */
function warmDispatch(): Promise<number> {
  return withScheduler({ prestart: 0 }, async (_node, scheduler) => {
    await scheduler.run(echo, 0);
    const start = performance.now();
    for (let i = 0; i < WARM_INVOCATIONS; i++) await scheduler.run(echo, i);
    return (ms(start) * 1000) / WARM_INVOCATIONS;
  });
}

/** Baseline: µs per postMessage round trip to a bare worker thread. */
async function rawRoundTrip(): Promise<number> {
  const worker = new Worker(RAW_ECHO, { eval: true });
  const roundTrip = (value: number) =>
    new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage(value);
    });
  await roundTrip(0);
  const start = performance.now();
  for (let i = 0; i < WARM_INVOCATIONS; i++) await roundTrip(i);
  const perCall = (ms(start) * 1000) / WARM_INVOCATIONS;
  await worker.terminate();
  return perCall;
}

let coldSerial = 0;
/** ms to run a function never seen before: with a new thread, or on a pre-started one. */
function coldStart(prestart: number): Promise<number> {
  return withScheduler({ prestart }, async (_node, scheduler) => {
    if (prestart > 0) await sleep(300);
    const fresh = functionModule(`export default async (input) => input; // ${++coldSerial}`, 'cold');
    const start = performance.now();
    await scheduler.run(fresh, 1);
    return ms(start);
  });
}

/** Baseline: ms from `new Worker` to its first answer. */
async function rawWorkerStart(): Promise<number> {
  const start = performance.now();
  const worker = new Worker(RAW_ECHO, { eval: true });
  await new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(1);
  });
  const elapsed = ms(start);
  await worker.terminate();
  return elapsed;
}

// ── memory ───────────────────────────────────────────────────────────────────────────────

/** Bytes of PSS (node and sandboxes) per isolated process waiting in receive, LIVE_PROCESSES alive. */
function pssPerIsolated(): Promise<number> {
  return withScheduler({ prestart: 0 }, async (node, scheduler) => {
    const before = pssOfTree();
    const pids = Array.from({ length: LIVE_PROCESSES }, () => scheduler.spawn(ponger));
    while (!pids.every((pid) => node.processInfo(pid)?.status === 'waiting')) await sleep(10);
    await sleep(200);
    return (pssOfTree() - before) / LIVE_PROCESSES;
  });
}

/** Baseline (the design before sandboxes): bytes of PSS per bare idle worker thread. */
async function pssPerRawThread(): Promise<number> {
  const before = pssOfTree();
  const workers = Array.from({ length: LIVE_PROCESSES }, () => new Worker(RAW_ECHO, { eval: true }));
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve) => {
          w.once('message', resolve);
          w.postMessage(1);
        }),
    ),
  );
  await sleep(200);
  const perThread = (pssOfTree() - before) / LIVE_PROCESSES;
  await Promise.all(workers.map((w) => w.terminate()));
  return perThread;
}

/** For comparison: PSS of an idle plain Node child process (what BullMQ's child-process sandbox costs). */
async function pssOfChildProcess(): Promise<number> {
  const child = spawnChild(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(500);
  const pss = pssOfTree(child.pid as number);
  child.kill('SIGKILL');
  return pss;
}

// ── killing ──────────────────────────────────────────────────────────────────────────────

/** ms from a 100 ms timeout to the busy-looping process being gone (its exit signals out). */
function timeoutToGone(): Promise<number> {
  return withScheduler({ prestart: 1 }, async (node, scheduler) => {
    await sleep(300);
    const start = performance.now();
    const pid = scheduler.spawn(busyLoop, null, { timeoutMs: 100 });
    await node.waitExit(pid);
    return ms(start) - 100;
  });
}

/** Baseline: ms for `worker.terminate()` of a bare busy-looping worker. */
async function rawTerminate(): Promise<number> {
  const worker = new Worker(RAW_LOOP, { eval: true });
  await new Promise((resolve) => worker.once('message', resolve));
  await sleep(20);
  const start = performance.now();
  await worker.terminate();
  return ms(start);
}

// ── CPU sharing ──────────────────────────────────────────────────────────────────────────

async function withHogs<T>(scheduler: Scheduler, node: Node, priority: Priority, body: () => Promise<T>): Promise<T> {
  const hogs: Pid[] = Array.from({ length: 4 * scheduler.cores }, () => scheduler.spawn(busyLoop, null, { priority }));
  while (!hogs.every((pid) => (node.processInfo(pid)?.cpuTimeNs ?? 0) > 0)) await sleep(10);
  try {
    return await body();
  } finally {
    const gone = hogs.map((pid) => node.waitExit(pid));
    for (const pid of hogs) node.exit(pid, 'kill');
    await Promise.all(gone);
  }
}

/** ms of a normal-priority CPU job (best of 3), alone and beside 4 × cores hogs of each priority. */
function cpuJobTimes(): Promise<{ alone: number; besideLow: number; besideNormal: number }> {
  return withScheduler({ prestart: 0 }, async (node, scheduler) => {
    const job = async () => {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        await scheduler.run(work, { iterations: 8_000_000 });
        times.push(ms(start));
      }
      return Math.min(...times);
    };
    const alone = await job();
    const besideLow = await withHogs(scheduler, node, 'low', job);
    const besideNormal = await withHogs(scheduler, node, 'normal', job);
    return { alone, besideLow, besideNormal };
  });
}

/** Latencies (spawn to exit) of 5 ms CPU jobs submitted every 25 ms. */
async function shortJobLatencies(scheduler: Scheduler, node: Node, count = 40): Promise<number[]> {
  const latencies: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const pid = scheduler.spawn(spin, { ms: 5 });
    latencies.push(node.waitExit(pid).then(() => ms(start)));
    await sleep(25);
  }
  return Promise.all(latencies);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function shortJobs(): Promise<{ idle: number[]; besideHogs: number[] }> {
  return withScheduler({ prestart: 0 }, async (node, scheduler) => {
    await shortJobLatencies(scheduler, node, 5);
    const idle = await shortJobLatencies(scheduler, node);
    const besideHogs = await withHogs(scheduler, node, 'normal', () => shortJobLatencies(scheduler, node));
    return { idle, besideHogs };
  });
}

/** Reported utilization against the load the process itself measured (its busy ms / (cores × wall)). */
function utilizationAccuracy(): Promise<{ reported: number; expected: number }> {
  const forMs = 3000;
  return withScheduler({ prestart: 0, windowMs: forMs, sampleIntervalMs: 50 }, async (_node, scheduler) => {
    let reported = 0;
    const sampler = setTimeout(() => {
      reported = scheduler.stats().utilization;
    }, forMs - 60);
    const outcome = await scheduler.run(dutyCycle, { busyMs: 20, idleMs: 20, forMs });
    clearTimeout(sampler);
    return { reported, expected: (outcome.result as number) / (scheduler.cores * forMs) };
  });
}

// ── main ─────────────────────────────────────────────────────────────────────────────────

async function repeat(measure: () => Promise<number>, runs = RUNS): Promise<Summary> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await measure());
  return summarize(values);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const row = (
    name: string,
    unit: string,
    beamline: Summary,
    baseline: Summary,
    baselineName: string,
    target: string,
    met: boolean | undefined,
  ) => rows.push({ name, unit, beamline, baseline, baselineName, target, met });

  const warm = await repeat(warmDispatch);
  const raw = await repeat(rawRoundTrip);
  row(
    'warm invocation (spawn, run no-op, exit, result back)',
    'µs',
    warm,
    raw,
    'bare worker postMessage round trip',
    '—',
    undefined,
  );

  const cold = await repeat(() => coldStart(0));
  const prestarted = await repeat(() => coldStart(1));
  const rawStart = await repeat(rawWorkerStart);
  row('cold start, new sandbox', 'ms', cold, rawStart, 'new Worker to first answer', '—', undefined);
  row('cold start, pre-started sandbox', 'ms', prestarted, rawStart, 'new Worker to first answer', '—', undefined);

  const pss = await repeat(pssPerIsolated, 3);
  const rawPss = await repeat(pssPerRawThread, 3);
  const childPss = await repeat(pssOfChildProcess, 3);
  const mb = 1 / (1024 * 1024);
  row(
    `PSS per live isolated process (${LIVE_PROCESSES} alive, node + sandboxes)`,
    'MB',
    scale(pss, mb),
    scale(rawPss, mb),
    'bare worker thread',
    '—',
    undefined,
  );
  row(
    'PSS of an idle plain Node child process (for comparison)',
    'MB',
    scale(childPss, mb),
    scale(pss, mb),
    'isolated process',
    '—',
    undefined,
  );

  const gone = await repeat(timeoutToGone, RUNS * 3);
  const rawKill = await repeat(rawTerminate, RUNS * 3);
  row(
    'timeout → process gone (busy loop)',
    'ms',
    gone,
    rawKill,
    'worker.terminate() of a bare busy loop',
    '≤ 50 ms',
    gone.median <= 50,
  );

  const cpu: Array<{ alone: number; besideLow: number; besideNormal: number }> = [];
  for (let i = 0; i < RUNS; i++) cpu.push(await cpuJobTimes());
  const alone = summarize(cpu.map((c) => c.alone));
  const besideLow = summarize(cpu.map((c) => c.besideLow));
  const besideNormal = summarize(cpu.map((c) => c.besideNormal));
  row(
    'normal CPU job beside 4 × cores low-priority hogs',
    'ms',
    besideLow,
    alone,
    'same job, idle node',
    '≤ 1.2×',
    besideLow.median / alone.median <= 1.2,
  );
  row(
    'normal CPU job beside 4 × cores normal-priority hogs',
    'ms',
    besideNormal,
    alone,
    'same job, idle node',
    '—',
    undefined,
  );

  const latencyRuns: Array<{ idle: number[]; besideHogs: number[] }> = [];
  for (let i = 0; i < Math.max(2, Math.floor(RUNS / 2)); i++) latencyRuns.push(await shortJobs());
  const p = (q: number, key: 'idle' | 'besideHogs') => summarize(latencyRuns.map((r) => percentile(r[key], q)));
  row(
    '5 ms job p50 beside 4 × cores equal-priority hogs',
    'ms',
    p(50, 'besideHogs'),
    p(50, 'idle'),
    'p50 on an idle node',
    '—',
    undefined,
  );
  row(
    '5 ms job p99 beside 4 × cores equal-priority hogs',
    'ms',
    p(99, 'besideHogs'),
    p(99, 'idle'),
    'p99 on an idle node',
    '—',
    undefined,
  );

  const accuracy: Array<{ reported: number; expected: number }> = [];
  for (let i = 0; i < Math.max(2, Math.floor(RUNS / 2)); i++) accuracy.push(await utilizationAccuracy());
  row(
    'utilization, one process busy 50% (reported)',
    '',
    summarize(accuracy.map((a) => a.reported)),
    summarize(accuracy.map((a) => a.expected)),
    'busy time the process measured / (cores × wall)',
    'within 10%',
    accuracy.every((a) => Math.abs(a.reported / a.expected - 1) <= 0.1),
  );

  report('Isolated processes', rows, RUNS, 'isolated-results.json', {
    shortJobLatenciesMs: latencyRuns,
    childProcessPssMB: childPss.median * mb,
  });
  console.log(`\nIdle Node child process PSS: ${fmt(childPss.median * mb)} MB`);
}

await main();
