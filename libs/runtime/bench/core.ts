import { Node, type Pid, type ProcessContext } from '../src/index.js';
import { fmt, type Row, report, scale } from './report.js';
import { gc, type Summary, settle, summarize } from './stats.js';

/**
 * Green-process figures against the floor of plain JavaScript measured in the same run:
 * spawn-and-exit, send+receive, and memory per idle process with 100,000 alive.
 */

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SPAWNS = 200_000;
const BATCH = 1000;
const ROUND_TRIPS = 200_000;
const IDLE = 100_000;

async function waitUntilEmpty(node: Node): Promise<void> {
  while (node.kernel.processCount > 0) await settle();
}

/** ns per process: batches of 1,000 processes whose bodies return at once, until all have exited. */
async function spawnAndExit(): Promise<number> {
  const node = new Node({ id: 'bench' });
  const start = process.hrtime.bigint();
  for (let batch = 0; batch < SPAWNS / BATCH; batch++) {
    for (let i = 0; i < BATCH; i++) node.spawn(() => undefined);
    await waitUntilEmpty(node);
  }
  return Number(process.hrtime.bigint() - start) / SPAWNS;
}

/** ns per process, one at a time: spawn, then await its exit through `waitExit`. */
async function spawnAndAwaitExit(): Promise<number> {
  const node = new Node({ id: 'bench' });
  const count = SPAWNS / 10;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await node.waitExit(node.spawn(() => undefined));
  return Number(process.hrtime.bigint() - start) / count;
}

/** ns per process: 100,000 spawned at once (all alive together), until all have exited. */
async function spawnBurst(): Promise<number> {
  const node = new Node({ id: 'bench' });
  const start = process.hrtime.bigint();
  for (let i = 0; i < IDLE; i++) node.spawn(() => undefined);
  await waitUntilEmpty(node);
  return Number(process.hrtime.bigint() - start) / IDLE;
}

/** Baseline: plain async calls awaited one at a time. */
async function asyncCallOneByOneFloor(): Promise<number> {
  const body = async () => undefined;
  const count = SPAWNS / 10;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await body();
  return Number(process.hrtime.bigint() - start) / count;
}

/** Baseline: the same batches of plain async calls started on a microtask, counted as they finish. */
async function asyncCallFloor(): Promise<number> {
  const body = async () => undefined;
  const start = process.hrtime.bigint();
  for (let batch = 0; batch < SPAWNS / BATCH; batch++) {
    let pending = BATCH;
    for (let i = 0; i < BATCH; i++) queueMicrotask(() => void body().then(() => pending--));
    while (pending > 0) await settle();
  }
  return Number(process.hrtime.bigint() - start) / SPAWNS;
}

/** ns per message: ping-pong between two processes; each round trip is two send+receive. */
async function sendReceive(): Promise<number> {
  const node = new Node({ id: 'bench' });
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ponger = node.spawn(async (ctx: ProcessContext) => {
    for (;;) {
      const from = (await ctx.receive()) as Pid;
      ctx.send(from, 'pong');
    }
  });
  let start = 0n;
  node.spawn(async (ctx: ProcessContext) => {
    start = process.hrtime.bigint();
    for (let i = 0; i < ROUND_TRIPS; i++) {
      ctx.send(ponger, ctx.self);
      await ctx.receive();
    }
    done();
  });
  await finished;
  const perMessage = Number(process.hrtime.bigint() - start) / (ROUND_TRIPS * 2);
  await node.stop();
  return perMessage;
}

/** Baseline: the same ping-pong between two async functions over bare promise hand-offs. */
async function promisePingPongFloor(): Promise<number> {
  let toPonger: ((v: string) => void) | undefined;
  let toPinger: ((v: string) => void) | undefined;
  const next = (set: (r: (v: string) => void) => void) => new Promise<string>((resolve) => set(resolve));
  const ponger = (async () => {
    for (let i = 0; i < ROUND_TRIPS; i++) {
      await next((r) => (toPonger = r));
      toPinger?.('pong');
    }
  })();
  await settle();
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const reply = next((r) => (toPinger = r));
    toPonger?.('ping');
    await reply;
  }
  await ponger;
  return Number(process.hrtime.bigint() - start) / (ROUND_TRIPS * 2);
}

/** Bytes of heap per idle process (blocked in receive), with 100,000 alive. */
async function idleMemory(): Promise<{ heap: number; rss: number }> {
  const node = new Node({ id: 'bench' });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < IDLE; i++) node.spawn(async (ctx) => void (await ctx.receive()));
  await settle();
  gc();
  const heap = (process.memoryUsage().heapUsed - heapBefore) / IDLE;
  const rss = (process.memoryUsage().rss - rssBefore) / IDLE;
  if (node.stats().processes.byStatus.waiting !== IDLE) throw new Error('not every process reached receive');
  await node.stop();
  return { heap, rss };
}

/** Baseline: 100,000 bare async functions suspended on a pending promise. */
async function suspendedAsyncFloor(): Promise<number> {
  const resolvers: Array<() => void> = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  const tasks = [];
  for (let i = 0; i < IDLE; i++) {
    tasks.push((async () => void (await new Promise<void>((resolve) => resolvers.push(resolve))))());
  }
  await settle();
  gc();
  const perTask = (process.memoryUsage().heapUsed - before) / IDLE;
  for (const resolve of resolvers) resolve();
  await Promise.all(tasks);
  return perTask;
}

async function repeat(measure: () => Promise<number>): Promise<Summary> {
  await measure();
  const values: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    values.push(await measure());
    gc();
  }
  return summarize(values);
}

/** A timing row in µs from measurements in ns, against a target in µs. */
function timingRow(name: string, beamline: Summary, baseline: Summary, baselineName: string, targetUs: number): Row {
  return {
    name,
    unit: 'µs',
    beamline: scale(beamline, 1e-3),
    baseline: scale(baseline, 1e-3),
    baselineName,
    target: `≤ ${targetUs} µs`,
    met: beamline.median <= targetUs * 1000,
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const spawn = await repeat(spawnAndExit);
  const spawnFloor = await repeat(asyncCallFloor);
  const oneByOne = await repeat(spawnAndAwaitExit);
  const oneByOneFloor = await repeat(asyncCallOneByOneFloor);
  rows.push(
    timingRow('spawn + exit, one at a time (awaiting waitExit)', oneByOne, oneByOneFloor, 'awaited async call', 3),
  );
  rows.push(timingRow('spawn + exit, batches of 1,000', spawn, spawnFloor, 'async calls in batches', 3));
  const burst = await repeat(spawnBurst);
  rows.push(timingRow('spawn + exit, 100,000 alive at once', burst, spawnFloor, 'async calls in batches', 3));
  const message = await repeat(sendReceive);
  const messageFloor = await repeat(promisePingPongFloor);
  rows.push(timingRow('send + receive (ping-pong, per message)', message, messageFloor, 'bare promise hand-off', 1));
  const memoryRuns: Array<{ heap: number; rss: number }> = [];
  for (let i = 0; i < Math.max(3, Math.floor(RUNS / 2)); i++) memoryRuns.push(await idleMemory());
  const heap = summarize(memoryRuns.map((m) => m.heap));
  const rss = summarize(memoryRuns.map((m) => m.rss));
  const memoryFloor = await repeat(suspendedAsyncFloor);
  rows.push({
    name: 'heap per idle process (100,000 alive)',
    unit: 'KB',
    beamline: scale(heap, 1 / 1024),
    baseline: scale(memoryFloor, 1 / 1024),
    baselineName: 'suspended async function',
    target: '≤ 2.6 KB',
    met: heap.median <= 2.6 * 1024,
  });

  report('Green processes', rows, RUNS, 'results.json', { rssPerIdleProcessKB: rss.median / 1024 });
  console.log(`\nRSS per idle process: ${fmt(rss.median / 1024)} KB (median of ${rss.runs})`);
}

await main();
