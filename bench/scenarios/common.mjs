// Shared by the scenarios: private Redis, worker processes, job data, statistics.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BUILTIN_TENANT, FunctionRegistry, Keys } from '@beamline/jobs';
import { Redis } from 'ioredis';

export const root = new URL('../../', import.meta.url);
export const cores = availableParallelism();
export const quick = process.argv.includes('--quick');
const children = new Set();
/** Kills a launched process and everything it started (BullMQ's sandboxed children survive their parent otherwise). */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
process.on('exit', () => {
  for (const child of children) killGroup(child);
});

export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { median: at(50), p99: at(99), min: sorted[0], max: sorted.at(-1), runs: sorted.length };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Spawns a process and resolves once a line of its output matches `ready`. */
export function launch(args, env, ready, nodeFlags = []) {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that stop() ends what it started too.
    detached: true,
  });
  children.add(child);
  child.on('exit', () => {
    children.delete(child);
    killGroup(child);
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${output.slice(-2000)}`)));
  });
}

export async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A Beamline worker node in its own process. Every bench job belongs to one tenant, so the
 * per-tenant cap (TENANT_MAX_RUNNING_PER_NODE, by default 3/4 of WORKER_CONCURRENCY) is set to
 * the concurrency: single-tenant throughput at the same concurrency as the BullMQ baselines.
 */
export function beamlineWorker(redisUrl, prefix, env = {}, nodeFlags = []) {
  const concurrency = { WORKER_CONCURRENCY: String(Math.max(8, cores * 4)), ...env }.WORKER_CONCURRENCY;
  return launch(
    [new URL('apps/worker/dist/main.js', root).pathname],
    {
      REDIS_URL: redisUrl,
      BEAMLINE_PREFIX: prefix,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: concurrency,
      TENANT_MAX_RUNNING_PER_NODE: concurrency,
      ...env,
    },
    /worker node started/,
    nodeFlags,
  );
}

/** The prefix of BullMQ's keys under a Beamline prefix: in braces, a Redis Cluster hash tag (as Keys makes it). */
export const queuePrefix = (prefix) => new Keys(prefix).prefix;

export function bullmqWorker(redisUrl, prefix, mode, concurrency) {
  return launch(
    [
      new URL('bench/baselines/bullmq-worker.mjs', root).pathname,
      redisUrl,
      queuePrefix(prefix),
      mode,
      String(concurrency),
    ],
    {},
    /ready/,
  );
}

/** Publishes the built-ins as a worker would, and returns job data for a built-in function. */
export async function builtins(redisUrl, prefix) {
  const redis = new Redis(redisUrl);
  const registry = new FunctionRegistry(redis, new Keys(prefix));
  const versions = {};
  for (const name of ['echo', 'cpu', 'loop', 'sleep']) {
    const source = readFileSync(new URL(`apps/worker/functions/${name}.js`, root), 'utf8');
    versions[name] = await registry.deploy(BUILTIN_TENANT, name, source, {}, { builtin: true });
  }
  redis.disconnect();
  return (name, input, priority = 'normal', limits = {}) => ({
    function: name,
    version: versions[name].version,
    sha256: versions[name].sha256,
    functionTenant: BUILTIN_TENANT,
    tenant: 'bench',
    input,
    limits,
    priority,
    restart: 'transient',
    submittedAt: Date.now(),
  });
}

/** Proportional set size of one process (shared pages split between the processes that map them), bytes. */
export function pssOf(pid) {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** PSS of a process and all its descendants (a worker with its sandboxes or child processes), bytes. */
export function pssOfTree(pid) {
  return pssOf(pid) + childrenOf(pid).reduce((sum, child) => sum + pssOfTree(child), 0);
}

/** CPU seconds (user + system, all threads) of a process and its live descendants, plus reaped children. */
export function cpuOfTree(pid) {
  let own = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14–17 (1-based), i.e. 11–14 after the name.
    own = fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100;
  } catch {
    return 0;
  }
  return own + childrenOf(pid).reduce((sum, child) => sum + cpuOfTree(child), 0);
}

export function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
