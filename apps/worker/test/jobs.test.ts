import { FunctionRegistry, OPERATOR_TENANT, QUEUE_NAME } from '@beamline/jobs';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { runningPid, startWorker, useJobs } from './helpers.js';

const t = useJobs();
const redis = t.redis;

describe('jobs run as isolated processes, end to end through BullMQ', () => {
  it('each built-in function reaches its final state, with its result or its exit reason', async () => {
    const worker = await startWorker(redis.server.url);
    const cases = [
      { spec: { function: 'echo', input: { hello: 'world' } }, state: 'completed', result: { hello: 'world' } },
      { spec: { function: 'sleep', input: { ms: 20 } }, state: 'completed', result: { slept: 20 } },
      { spec: { function: 'cpu', input: { ms: 30 } }, state: 'completed' },
      { spec: { function: 'fail', input: { message: 'bad row 7' }, attempts: 1 }, state: 'failed', exit: 'error' },
      { spec: { function: 'loop', timeoutMs: 100, attempts: 1 }, state: 'failed', exit: 'timeout' },
      { spec: { function: 'loop', cpuMs: 100, attempts: 1 }, state: 'failed', exit: 'cpu_limit' },
      { spec: { function: 'allocate', memoryMb: 32, attempts: 1 }, state: 'failed', exit: 'memory_limit' },
      { spec: { function: 'receive', input: { count: 1, timeoutMs: 20 } }, state: 'completed', result: [] },
    ];
    const submitted = await Promise.all(cases.map((c) => t.j.submit(c.spec)));
    for (const [i, job] of submitted.entries()) {
      const view = await t.j.finished(job.id);
      const expected = cases[i] as (typeof cases)[number];
      expect(view.state, JSON.stringify(expected.spec)).toBe(expected.state);
      if ('result' in expected) expect(view.result).toEqual(expected.result);
      if ('exit' in expected) expect(view.exit?.reason).toBe(expected.exit);
      // Ended: not running, and its node no longer has a process for it.
      expect(view.state).not.toBe('running');
      expect(worker.runner.pidOf(job.id)).toBeUndefined();
    }
    const failed = await t.j.store.get(submitted[3]?.id as string);
    expect(failed?.exit).toMatchObject({ error: { name: 'Error', message: 'bad row 7' } });
    expect(failed?.exit?.error?.stack).toContain('beamline-function:fail@');
    const cpu = await t.j.store.get(submitted[2]?.id as string);
    expect(cpu?.progress).toBe(100);
    expect(worker.scheduler.stats().exits).toMatchObject({ timeout: 1, cpu_limit: 1, memory_limit: 1 });
  });

  it('restarts a failing job with backoff under new pids, then keeps it as a dead letter that can be retried', async () => {
    await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy(
      'default',
      'fails-until',
      "export default async ({ until }) => { if (Date.now() < until) throw new Error('too early'); return 'on time'; };",
    );
    const until = Date.now() + 1500;
    const job = await t.j.submit({
      function: 'fails-until',
      input: { until },
      attempts: 3,
      backoff: { type: 'fixed', delayMs: 50 },
    });
    const failed = await t.j.finished(job.id);
    expect(failed).toMatchObject({
      state: 'failed',
      attemptsMade: 3,
      exit: { reason: 'error', message: 'Error: too early' },
    });
    const stacks = (await t.j.queue.getJob(job.id))?.stacktrace ?? [];
    const pids = stacks.map((stack) => /pid (\S+) on node/.exec(stack)?.[1]);
    expect(pids).toHaveLength(3);
    expect(new Set(pids).size).toBe(3);
    expect((await t.j.store.deadLetters(undefined)).map((d) => d.id)).toContain(job.id);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
    expect(await t.j.store.retry(job.id, 'default')).toBe(true);
    const completed = await t.j.finished(job.id);
    expect(completed).toMatchObject({ state: 'completed', result: 'on time', exit: undefined });
    expect(await t.j.store.retry(job.id, 'default')).toBe(false);
  });

  it('a job whose nodes died twice under it fails with exit reason stalled: in its view, the dead letters and the metrics', async () => {
    await new FunctionRegistry(t.j.redis, t.j.keys).deploy('default', 'stallee', 'export default async () => 1;');
    const job = await t.j.submit({ function: 'stallee', attempts: 3 });
    // A node that takes the job and dies at once, twice: its lock is gone and a stall check
    // (run twice: the first marks active jobs, the second moves those without a lock) finds it.
    const dead = new Worker(QUEUE_NAME, null, {
      connection: { url: redis.server.url, maxRetriesPerRequest: null },
      prefix: t.j.keys.prefix,
      maxStalledCount: 1,
    });
    try {
      for (let stall = 1; stall <= 2; stall++) {
        const taken = await dead.getNextJob(`dead-node-${stall}`);
        expect(taken?.id).toBe(job.id);
        await t.j.redis.del(`${t.j.keys.prefix}:${QUEUE_NAME}:${job.id}:lock`);
        for (let check = 0; check < 2; check++) {
          await t.j.redis.del(`${t.j.keys.prefix}:${QUEUE_NAME}:stalled-check`);
          await (dead as unknown as { moveStalledJobsToWait(): Promise<unknown> }).moveStalledJobsToWait();
        }
        expect(await t.j.redis.hget(`${t.j.keys.prefix}:${QUEUE_NAME}:${job.id}`, 'stc')).toBe(String(stall));
      }
    } finally {
      await dead.close();
    }
    const worker = await startWorker(redis.server.url);
    const failed = await t.j.finished(job.id);
    expect(failed).toMatchObject({ state: 'failed', exit: { reason: 'stalled' } });
    expect(failed.result).toBeUndefined();
    const letters = await t.j.store.deadLetters('default');
    expect(letters.find((letter) => letter.id === job.id)?.exit?.reason).toBe('stalled');
    expect(await t.j.store.backlog('default')).toBe(0);
    const counted = await worker.metrics.registry.getSingleMetric('beamline_jobs_failed_total')?.get();
    expect(counted?.values).toContainEqual(
      expect.objectContaining({ value: 1, labels: { function: 'stallee', reason: 'stalled', final: 'true' } }),
    );
  });

  it('a job that exits with shutdown itself fails like any abnormal exit, and is not handed back', async () => {
    await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy('default', 'quits', "export default async (_input, ctx) => ctx.exit('shutdown');");
    const job = await t.j.submit({ function: 'quits', attempts: 1 });
    expect(await t.j.finished(job.id)).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      exit: { reason: 'shutdown' },
    });
  });

  it('a shutdown the drain did not start (ctx.exit("shutdown") in job code) uses an attempt every time', async () => {
    await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy('default', 'quits2', "export default async (_input, ctx) => ctx.exit('shutdown');");
    const job = await t.j.submit({ function: 'quits2', attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
    const view = await t.j.finished(job.id);
    expect(view).toMatchObject({ state: 'failed', attemptsMade: 2, exit: { reason: 'shutdown' } });
    const stacks = (await t.j.queue.getJob(job.id))?.stacktrace ?? [];
    expect(stacks).toHaveLength(2);
  });

  it("job code cannot signal the node's own processes nor another tenant's jobs", async () => {
    const worker = await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    const killer =
      "export default async ({ target }, ctx) => { ctx.exit(target, 'kill'); await ctx.sleep(2000); return 'still here'; };";
    await registry.deploy('default', 'killer', killer);
    await registry.deploy('other', 'killer', killer);
    const supervisor = worker.node.whereis('beamline_jobs') as string;
    const attack = await t.j.submit({ function: 'killer', input: { target: supervisor }, attempts: 1 });
    const refused = await t.j.finished(attack.id);
    expect(refused).toMatchObject({ state: 'failed', exit: { reason: 'error', error: { name: 'BadArgError' } } });
    expect(refused.exit?.message).toMatch(/process of the worker node itself/);
    expect(worker.node.isAlive(supervisor)).toBe(true);

    const victim = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    const victimPid = await runningPid(t.j, victim.id);
    const crossTenant = await t.j.submit({ function: 'killer', input: { target: victimPid }, attempts: 1 }, 'other');
    expect((await t.j.finished(crossTenant.id)).exit?.message).toMatch(/another tenant/);
    expect(worker.node.isAlive(victimPid)).toBe(true);
    expect(await t.j.store.cancel(victim.id, 'default')).toBe('cancelling');
    await t.j.finished(victim.id);
  });

  it('a temporary job is never restarted', async () => {
    await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'fail', attempts: 5, restart: 'temporary' });
    expect(await t.j.finished(job.id)).toMatchObject({ state: 'failed', attemptsMade: 1 });
  });

  it('honours priority in queue order: max, high, normal, low', async () => {
    const order: string[] = [];
    const submitted = [];
    for (const priority of ['low', 'normal', 'high', 'max'] as const) {
      submitted.push(await t.j.submit({ function: 'echo', input: priority, priority }));
    }
    const worker = await startWorker(redis.server.url, { WORKER_CONCURRENCY: '1' });
    for (const job of submitted) {
      const view = await t.j.finished(job.id);
      order.push(`${view.startedAt}:${view.result}`);
    }
    const byStart = order.sort().map((entry) => entry.split(':')[1]);
    expect(byStart).toEqual(['max', 'high', 'normal', 'low']);
    expect(worker.scheduler.stats().cpuSecondsByPriority.low).toBeGreaterThanOrEqual(0);
  });

  it('a delayed job runs after its delay', async () => {
    await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'echo', input: 'later', delayMs: 300 });
    expect((await t.j.store.get(job.id))?.state).toBe('delayed');
    const view = await t.j.finished(job.id);
    expect(view.state).toBe('completed');
    expect((view.startedAt ?? 0) - view.submittedAt).toBeGreaterThanOrEqual(290);
  });
});

describe('the control channel', () => {
  it('kills a running infinite loop: gone within a generous bound, the job cancelled and not retried', async () => {
    const worker = await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'loop', attempts: 3 });
    const pid = await runningPid(t.j, job.id);
    const exited = worker.node.waitExit(pid);
    const asked = performance.now();
    expect(await t.j.store.cancel(job.id, 'default')).toBe('cancelling');
    expect(await exited).toBe('killed');
    expect(performance.now() - asked).toBeLessThan(2000);
    expect(await t.j.finished(job.id)).toMatchObject({
      state: 'cancelled',
      attemptsMade: 1,
      exit: { reason: 'cancelled' },
    });
  });

  it('a job that traps exit signals is still cancelled; one that exits "cancelled" itself is not (it is retried)', async () => {
    await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy(
      'default',
      'trapper',
      "export default async (_input, ctx) => { ctx.trapExit(true); await ctx.sleep(4000); return 'survived'; };",
    );
    await registry.deploy('default', 'selfcancel', "export default async (_input, ctx) => ctx.exit('cancelled');");
    const trapper = await t.j.submit({ function: 'trapper', attempts: 3 });
    await runningPid(t.j, trapper.id);
    expect(await t.j.store.cancel(trapper.id, 'default')).toBe('cancelling');
    expect(await t.j.finished(trapper.id)).toMatchObject({ state: 'cancelled', exit: { reason: 'cancelled' } });
    const own = await t.j.submit({ function: 'selfcancel', attempts: 2, backoff: { type: 'fixed', delayMs: 1 } });
    expect(await t.j.finished(own.id)).toMatchObject({ state: 'failed', attemptsMade: 2, exit: { reason: 'other' } });
  });

  it('delivers messages from outside to a running job, in order', async () => {
    await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'receive', input: { count: 5 } });
    const pid = await runningPid(t.j, job.id);
    for (let i = 0; i < 5; i++) await t.j.control.send(pid, 'api.0', { n: i }, 'default');
    const view = await t.j.finished(job.id);
    expect(view.result).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    const { logs } = await t.j.store.logs(job.id);
    expect(logs).toContain('[info] received {"n":0}');
  });

  it("the control channel reaches job processes only, not the node's own", async () => {
    const worker = await startWorker(redis.server.url);
    const supervisor = worker.node.whereis('beamline_jobs') as string;
    expect(await t.j.control.exit(supervisor, 'api.0', 'kill', OPERATOR_TENANT)).toBe(1);
    const probe = await t.j.submit({ function: 'echo', input: 'after' });
    expect((await t.j.finished(probe.id)).state).toBe('completed');
    expect(worker.node.isAlive(supervisor)).toBe(true);
  });

  it('a kill for a pid of this node arrives from another process through Redis', async () => {
    const worker = await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    const pid = await runningPid(t.j, job.id);
    const exited = worker.node.waitExit(pid);
    expect(await t.j.control.exit(pid, 'api.0', 'kill', 'default')).toBe(1);
    expect(await exited).toBe('killed');
    expect(await t.j.finished(job.id)).toMatchObject({ state: 'failed', exit: { reason: 'killed' } });
  });
});
