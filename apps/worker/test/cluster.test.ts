import { describe, expect, it } from 'vitest';
import { exitOf, type Jobs, runningPid, spawnWorker, startWorker, until, useJobs } from './helpers.js';

const t = useJobs({ appendOnly: true });
const redis = t.redis;

/** Counts job executions (each move to active), the at-least-once figure. */
function countExecutions(events: Jobs['events']): { readonly count: number } {
  const counter = { count: 0 };
  events.on('active', () => {
    counter.count++;
  });
  return counter;
}

describe('horizontal scaling and node failure', () => {
  it('three worker processes share the queue; one killed with SIGKILL midway loses no job', async () => {
    // One tenant only: its per-node cap is the node's concurrency, as before tenant caps.
    const lockEnv = {
      LOCK_DURATION_MS: '2000',
      STALLED_INTERVAL_MS: '1000',
      WORKER_CONCURRENCY: '16',
      TENANT_MAX_RUNNING_PER_NODE: '16',
    };
    const nodes = await Promise.all(
      ['a', 'b', 'c'].map((id) => spawnWorker(redis.server.url, { ...lockEnv, NODE_ID: `node-${id}` })),
    );
    const executions = countExecutions(t.j.events);
    const total = 2000;
    const specs = Array.from({ length: total }, (_, i) => ({ name: 'sleep', data: i }));
    const submitted = [];
    for (const batch of chunks(specs, 200)) {
      submitted.push(...(await Promise.all(batch.map((s) => t.j.submit({ function: s.name, input: { ms: 5 } })))));
    }
    await until(async () => ((await t.j.queue.getJobCounts('completed')).completed ?? 0) >= total / 4);
    const victim = nodes[0];
    victim?.kill('SIGKILL');
    expect(await exitOf(victim as NonNullable<typeof victim>)).toBe(null);
    await until(async () => ((await t.j.queue.getJobCounts('completed')).completed ?? 0) >= total, 60_000);
    const counts = await t.j.queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'prioritized');
    expect(counts).toMatchObject({ completed: total, failed: 0, active: 0, waiting: 0, prioritized: 0 });
    expect(executions.count).toBeGreaterThanOrEqual(total);
    console.info(
      `cluster test: ${total} jobs, ${executions.count} executions (${executions.count - total} re-run after SIGKILL)`,
    );
  }, 90_000);

  it('SIGTERM hands running jobs back at once; another node finishes them without waiting for stall detection', async () => {
    const env = {
      LOCK_DURATION_MS: '30000',
      STALLED_INTERVAL_MS: '30000',
      DRAIN_DEADLINE_MS: '100',
      WORKER_CONCURRENCY: '4',
      TENANT_MAX_RUNNING_PER_NODE: '4',
    };
    const draining = await spawnWorker(redis.server.url, { ...env, NODE_ID: 'draining' });
    const submitted = await Promise.all(
      Array.from({ length: 4 }, () => t.j.submit({ function: 'sleep', input: { ms: 1500 } })),
    );
    for (const job of submitted) await runningPid(t.j, job.id);
    const signalled = performance.now();
    draining.kill('SIGTERM');
    expect(await exitOf(draining)).toBe(0);
    await startWorker(redis.server.url, { ...env, NODE_ID: 'taker' });
    for (const job of submitted) {
      const view = await t.j.finished(job.id, 20_000);
      expect(view.state).toBe('completed');
      expect(view.attemptsMade).toBe(1);
    }
    expect(performance.now() - signalled).toBeLessThan(10_000);
  }, 40_000);
});

describe('the control plane under load', () => {
  it('lock renewal keeps working with every core saturated: long CPU jobs complete with zero stalls', async () => {
    const stalls: string[] = [];
    t.j.events.on('stalled', ({ jobId }) => stalls.push(jobId));
    const worker = await startWorker(redis.server.url, {
      LOCK_DURATION_MS: '1000',
      STALLED_INTERVAL_MS: '500',
      WORKER_CONCURRENCY: '16',
      TENANT_MAX_RUNNING_PER_NODE: '16',
    });
    const count = 4 * worker.scheduler.cores;
    const submitted = await Promise.all(
      Array.from({ length: count }, () => t.j.submit({ function: 'cpu', input: { ms: 2500 }, attempts: 1 })),
    );
    for (const job of submitted) expect((await t.j.finished(job.id, 30_000)).state).toBe('completed');
    expect(stalls).toEqual([]);
    // What would lose a lock: the main thread pausing for as long as a lock lasts (1,000 ms here).
    // Cold starts of 16 sandboxes on a busy machine cost it a few hundred ms at worst.
    expect(worker.scheduler.stats().mainThread.lagMs.max).toBeLessThan(1000);
  }, 40_000);

  it('survives a Redis restart: the worker reconnects and later jobs complete', async () => {
    const worker = await startWorker(redis.server.url);
    const before = await t.j.submit({ function: 'echo', input: 'before' });
    expect((await t.j.finished(before.id)).state).toBe('completed');
    await redis.server.kill();
    await until(async () => (await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`)).status === 503, 20_000);
    await redis.server.restart();
    await until(async () => (await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`)).status === 200, 20_000);
    const after = await t.j.submit({ function: 'echo', input: 'after' });
    expect(await t.j.finished(after.id, 20_000)).toMatchObject({ state: 'completed', result: 'after' });
  }, 40_000);
});

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
