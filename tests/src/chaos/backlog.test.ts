import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  ControlPublisher,
  ENDED_STATES,
  FunctionRegistry,
  type JobSpec,
  JobStore,
  type JobView,
  Keys,
} from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Chaos for the job store's invariants: 3,000 jobs of three tenants through two worker nodes
 * (real OS processes), one killed with SIGKILL midway, while idempotent submissions race each
 * other, cancels hit waiting and running jobs, and failed jobs are retried. Afterwards every
 * tenant's backlog must equal the number of its jobs not yet ended, and its index must hold
 * exactly its jobs.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
const WORKER_MAIN = `${root}apps/worker/dist/main.js`;
const TENANTS = ['t-alpha', 't-beta', 't-gamma'] as const;
const JOBS = 3000;

let server: RedisServer;
let redis: Redis;
let store: JobStore;
const workers: ChildProcess[] = [];

function startWorker(nodeId: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: server.url,
      NODE_ID: nodeId,
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      WORKER_CONCURRENCY: '8',
      PRESTART_THREADS: '4',
      TENANT_MAX_RUNNING_PER_NODE: '8',
      LOCK_DURATION_MS: '3000',
      STALLED_INTERVAL_MS: '1000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker node started')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`worker ${nodeId} exited with ${code} before starting:\n${output}`)));
  });
}

const pick = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;

/**
 * A mix of quick, slow, failing and far-delayed jobs. Two in three are far-delayed: they stay in
 * the backlog (and are cancelled, replayed and counted like the rest) without costing the nodes
 * a sandbox each, so the test takes minutes, not tens of them, on two cores.
 */
function specOf(i: number): JobSpec {
  if (Math.floor(i / 3) % 3 !== 0) return { function: 'echo', input: i, delayMs: 600_000 };
  if (i % 29 === 0) return { function: 'fail', attempts: 2, backoff: { type: 'fixed', delayMs: 20 } };
  if (i % 31 === 0) return { function: 'sleep', input: { ms: 150 } };
  return { function: 'echo', input: i };
}

async function viewsOf(tenant: string): Promise<JobView[]> {
  const ids = await redis.zrange(new Keys().tenantIndex(tenant), 0, -1);
  const views = await Promise.all(ids.map((id) => store.get(id)));
  return views.filter((view): view is JobView => view !== undefined);
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const keys = new Keys();
  store = new JobStore(redis, keys, new FunctionRegistry(redis, keys), new ControlPublisher(redis, keys));
  await Promise.all([startWorker('chaos-a'), startWorker('chaos-b')]);
}, 60_000);

afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
  await store?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('job store under chaos', () => {
  it("keeps every tenant's backlog equal to its jobs not yet ended", async () => {
    const submitted: JobView[] = [];
    const keyed = new Set<string>();
    let unkeyed = 0;
    const submitWave = async (from: number, to: number) => {
      const wave = [];
      for (let i = from; i < to; i++) {
        const tenant = pick(TENANTS, i);
        const key = i % 10 === 0 ? `order-${i % 200}` : undefined;
        // Idempotent submissions race a twin with the same key.
        wave.push(store.submit(specOf(i), tenant, key));
        if (key) {
          wave.push(store.submit(specOf(i), tenant, key));
          keyed.add(`${tenant}/${key}`);
        } else {
          unkeyed++;
        }
      }
      for (const outcome of await Promise.all(wave)) submitted.push(outcome.job);
    };
    const removed = new Set<string>();
    const cancelSome = (step: number) =>
      Promise.all(
        submitted
          // Keyed jobs are left alone: a removed one's key would make a new job with the same id.
          .filter((job, i) => i % step === 3 && !job.id.startsWith('idem-'))
          .map(async (job) => {
            if ((await store.cancel(job.id, job.tenant)) === 'removed') removed.add(job.id);
          }),
      );
    const retryFailed = async () => {
      for (const tenant of TENANTS) {
        const dead = await store.deadLetters(tenant, 0, 49);
        await Promise.all(dead.map((job) => store.retry(job.id, tenant)));
      }
    };

    await submitWave(0, JOBS / 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    (workers[0] as ChildProcess).kill('SIGKILL');
    await once(workers[0] as ChildProcess, 'exit');
    await Promise.all([submitWave(JOBS / 2, JOBS), cancelSome(37), retryFailed()]);
    await startWorker('chaos-c');
    await Promise.all([cancelSome(53), retryFailed()]);

    // Settled: every job that is not far-delayed has ended (the killed node's jobs were recovered).
    const deadline = Date.now() + 150_000;
    // Only jobs not seen ended yet are read again (reading all 3,000 twice a second would load Redis).
    const unfinished = (j: JobView | undefined): j is JobView =>
      j !== undefined && !ENDED_STATES.has(j.state) && !(j.state === 'delayed' && j.attemptsMade === 0);
    let pending = (await Promise.all(TENANTS.map(viewsOf))).flat().filter(unfinished);
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      pending = (await Promise.all(pending.map((j) => store.get(j.id)))).filter(unfinished);
    }
    const stuck = pending.slice(0, 5).map((j) => ({ id: j.id, state: j.state, node: j.node, exit: j.exit?.message }));
    expect(pending.length, JSON.stringify(stuck)).toBe(0);

    const uniqueIds = new Set(submitted.map((job) => job.id));
    let notEndedInAll = 0;
    for (const tenant of TENANTS) {
      const views = await viewsOf(tenant);
      const notEnded = views.filter((j) => !ENDED_STATES.has(j.state)).map((j) => j.id);
      notEndedInAll += notEnded.length;
      expect(await store.backlog(tenant)).toBe(notEnded.length);
      expect(new Set(await store.openJobs(tenant))).toEqual(new Set(notEnded));
      // The index holds exactly the tenant's jobs that still exist (none of another tenant).
      expect(views.every((j) => j.tenant === tenant)).toBe(true);
    }
    // The far-delayed jobs are left in the backlogs; nothing accepted was lost: every job
    // exists, except exactly those a cancel removed before they started.
    expect(notEndedInAll).toBeGreaterThan(0);
    const existing = new Set((await Promise.all(TENANTS.map(viewsOf))).flat().map((j) => j.id));
    const missing = [...uniqueIds].filter((id) => !existing.has(id));
    expect(new Set(missing)).toEqual(removed);
    // Racing twins of an idempotency key made one job each.
    expect(uniqueIds.size).toBe(unkeyed + keyed.size);
  }, 240_000);
});
