// 1. No-op jobs per second in the steady state (after a warm-up of 500 jobs per process, outside the window): K consumer processes on one private Redis (K = 1, 2, 4), Beamline
// worker nodes against plain and sandboxed BullMQ workers at the same concurrency, alternating.
// For every run: CPU seconds of the consumer processes (the worker's own process and, apart, its
// sandboxes or threads), of Redis and of the bench process that watches. Then one more Beamline
// run, 1 process, under `--cpu-prof`: the top self-time functions of the worker's own process
// (its rate is not counted with the others).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { beamlineWorker, builtins, bullmqWorker, cpuOfTree, queuePrefix, quick, stop, summarize } from './common.mjs';

const JOBS = quick ? 5000 : 20000;
/** Jobs each consumer process runs before the window opens. */
const WARMUP_PER_PROCESS = 500;
const RUNS = quick ? 1 : 3;
const CONCURRENCY = 16;
const SYSTEMS = ['beamline', 'plain', 'threads'];

/** CPU seconds of the process itself (all its threads) and of its descendants. */
function cpuSplit(pid) {
  const tree = cpuOfTree(pid);
  let own = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    own = (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {}
  return { own, children: tree - own };
}

async function oneRun(redis, queue, data, system, processes, nodeFlags = []) {
  await queue.obliterate({ force: true });
  await queue.pause();
  const consumers = await Promise.all(
    Array.from({ length: processes }, () =>
      system === 'beamline'
        ? beamlineWorker(redis.url, 'tp', { WORKER_CONCURRENCY: String(CONCURRENCY) }, nodeFlags)
        : bullmqWorker(redis.url, 'tp', system, CONCURRENCY),
    ),
  );
  const add = async (count, offset) => {
    for (let start = 0; start < count; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
        name: 'echo',
        data: data('echo', offset + start + i),
        opts: { priority: 2 },
      }));
      await queue.addBulk(batch);
    }
  };
  const completedAtLeast = async (count) => {
    for (;;) {
      const { completed = 0, failed = 0 } = await queue.getJobCounts('completed', 'failed');
      if (failed > 0) throw new Error(`${system}: ${failed} jobs failed`);
      if (completed >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  // Warm-up, outside the window: every consumer starts its sandboxes, threads or child processes
  // and compiles its hot path, so the window measures the steady state (start-up is reported apart).
  const warmUp = WARMUP_PER_PROCESS * processes;
  await add(warmUp, JOBS);
  await queue.resume();
  await completedAtLeast(warmUp);
  await queue.pause();
  await add(JOBS, 0);
  const cpuBefore = consumers.map((c) => cpuSplit(c.pid));
  const redisBefore = cpuOfTree(redis.pid);
  const benchBefore = process.cpuUsage();
  const begin = performance.now();
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  await queue.resume();
  await completedAtLeast(warmUp + JOBS);
  const seconds = (performance.now() - begin) / 1000;
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpuAfter = consumers.map((c) => cpuSplit(c.pid));
  const bench = process.cpuUsage(benchBefore);
  const cpu = {
    wallS: seconds,
    consumerOwnS: cpuAfter.reduce((sum, c, i) => sum + c.own - cpuBefore[i].own, 0),
    consumerChildrenS: cpuAfter.reduce((sum, c, i) => sum + c.children - cpuBefore[i].children, 0),
    redisS: cpuOfTree(redis.pid) - redisBefore,
    benchS: (bench.user + bench.system) / 1e6,
  };
  await Promise.all(consumers.map(stop));
  return { rate: JOBS / seconds, cpu, fromUs, toUs };
}

/**
 * Self time per function of a V8 .cpuprofile, the top `count`, with the share of the samples and
 * each function's heaviest caller. Only samples inside [fromUs, toUs] (CLOCK_MONOTONIC µs, the
 * clock of V8's profile timestamps and of process.hrtime) count, when the window holds any:
 * the worker's start-up (sandbox host probe, first compile) is not what bounds the throughput.
 */
export function topSelfTime(file, count = 10, fromUs = -Infinity, toUs = Infinity) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const keyOf = (node) => {
    const frame = node.callFrame;
    const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
    return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };
  const stamps = [];
  let at = profile.startTime;
  for (const delta of profile.timeDeltas) {
    at += delta;
    stamps.push(at);
  }
  const inWindow = stamps.some((t) => t >= fromUs && t <= toUs);
  const self = new Map();
  const callers = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (inWindow && (stamps[i] < fromUs || stamps[i] > toUs)) continue;
    const node = byId.get(profile.samples[i]);
    const key = keyOf(node);
    const us = (stamps[i + 1] ?? stamps[i]) - stamps[i];
    self.set(key, (self.get(key) ?? 0) + us);
    // The heaviest caller outside Node's core (node:*, natives): who issued the write, read or spawn.
    let parent = byId.get(parentOf.get(node.id));
    while (
      parent &&
      (parent.callFrame.url === '' || parent.callFrame.url.startsWith('node:')) &&
      parentOf.has(parent.id)
    )
      parent = byId.get(parentOf.get(parent.id));
    if (parent) {
      const byCaller = callers.get(key) ?? new Map();
      const callerKey = keyOf(parent);
      byCaller.set(callerKey, (byCaller.get(callerKey) ?? 0) + us);
      callers.set(key, byCaller);
    }
    total += us;
  }
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([fn, us]) => ({
      function: fn,
      selfMs: us / 1000,
      share: us / total,
      caller: [...(callers.get(fn) ?? new Map()).entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([caller, callerUs]) => `${caller} (${Math.round((callerUs / us) * 100)}%)`)
        .join(', '),
    }));
  const idle = rows.find((r) => r.function === '(idle)');
  return {
    window: inWindow ? 'measured window only' : 'whole process',
    totalMs: total / 1000,
    idleShare: idle?.share ?? 0,
    top: rows.filter((r) => r.function !== '(idle)').slice(0, count),
  };
}

export async function throughput() {
  const redis = await RedisServer.start();
  const prefix = 'tp';
  const queue = new Queue('jobs', {
    connection: { url: redis.url, maxRetriesPerRequest: null },
    prefix: queuePrefix(prefix),
  });
  const data = await builtins(redis.url, prefix);
  const results = {};
  const cpu = {};
  for (const processes of [1, 2, 4]) {
    for (const system of SYSTEMS) {
      results[`${system}-${processes}`] = [];
      cpu[`${system}-${processes}`] = [];
    }
    for (let run = 0; run < RUNS; run++) {
      for (const system of SYSTEMS) {
        const outcome = await oneRun(redis, queue, data, system, processes);
        results[`${system}-${processes}`].push(outcome.rate);
        cpu[`${system}-${processes}`].push(outcome.cpu);
      }
    }
    console.log(
      `throughput, ${processes} process(es):`,
      Object.fromEntries(
        Object.entries(results)
          .filter(([k]) => k.endsWith(`-${processes}`))
          .map(([k, v]) => [k, Math.round(v.at(-1))]),
      ),
    );
  }

  // One more Beamline run (1 process) under the V8 CPU profiler; written when the worker exits.
  const dir = mkdtempSync(join(tmpdir(), 'beamline-prof-'));
  const profiled = await oneRun(redis, queue, data, 'beamline', 1, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const profile = file
    ? {
        ...topSelfTime(join(dir, file), 10, profiled.fromUs, profiled.toUs),
        jobs: JOBS,
        rate: profiled.rate,
        cpu: profiled.cpu,
      }
    : undefined;
  if (profile) {
    console.log(
      `profile of the Beamline worker (1 process, ${Math.round(profiled.rate)} jobs/s under the profiler, ${profile.window}): idle ${(profile.idleShare * 100).toFixed(1)}%`,
    );
    for (const r of profile.top)
      console.log(
        `  ${r.selfMs.toFixed(0).padStart(6)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.function} ← ${r.caller}`,
      );
  }
  if (file) copyFileSync(join(dir, file), join(tmpdir(), 'beamline-worker-throughput.cpuprofile'));
  rmSync(dir, { recursive: true, force: true });

  await queue.close();
  await redis.stop();
  return {
    ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, summarize(v)])),
    cpu,
    profile,
  };
}
