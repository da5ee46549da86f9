import { FunctionRegistry } from '@beamline/jobs';
import { describe, expect, it } from 'vitest';
import { startWorker, until, useJobs } from './helpers.js';

const t = useJobs();
const redis = t.redis;

/** Deploys job code for a tenant (the functions of these tests are small enough to read inline). */
async function deploy(tenant: string, name: string, source: string): Promise<void> {
  await new FunctionRegistry(t.j.redis, t.j.keys).deploy(tenant, name, source);
}

describe('job trees: ctx.startJob and ctx.awaitJob', () => {
  it('a parent starts children anywhere, awaits their results, and the store shows parent and children', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'fan-out',
      `export default async ({ n }, ctx) => {
        const children = await Promise.all(Array.from({ length: n }, (_, i) => ctx.startJob('echo', { i })));
        return { ids: children.map((c) => c.id), results: await Promise.all(children.map((c) => ctx.awaitJob(c))) };
      };`,
    );
    const parent = await t.j.submit({ function: 'fan-out', input: { n: 5 } }, 'trees');
    const done = await t.j.finished(parent.id);
    expect(done.state).toBe('completed');
    const { ids, results } = done.result as { ids: string[]; results: unknown[] };
    expect(results).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    const view = await t.j.store.getOf('trees', parent.id);
    expect(view?.children).toEqual({ total: 5, ids });
    for (const id of ids) {
      const child = await t.j.store.getOf('trees', id);
      expect(child).toMatchObject({ tenant: 'trees', state: 'completed', parent: { id: parent.id, relation: 'link' } });
    }
    expect(await t.j.store.backlog('trees')).toBe(0);
  });

  it('a linked child that fails kills its parent, whose exit names the child', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'doomed',
      `export default async (_, ctx) => {
        await ctx.startJob('fail', { message: 'child broke' }, { attempts: 1 });
        await ctx.receive();
      };`,
    );
    const parent = await t.j.submit({ function: 'doomed', attempts: 1 }, 'trees');
    const done = await t.j.finished(parent.id);
    const [childId] = (await t.j.store.getOf('trees', parent.id))?.children?.ids ?? [];
    expect(done.state).toBe('failed');
    expect(done.exit?.reason).toBe('error');
    expect(done.exit?.message).toBe(`LinkedJobFailed: linked child job ${childId} failed: error: Error: child broke`);
  });

  it('a parent that traps exits receives EXIT and completes; awaitJob rejects with the child exit; a monitor gets DOWN', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'trapper',
      `export default async (_, ctx) => {
        ctx.trapExit(true);
        const failing = await ctx.startJob('fail', { message: 'nope' }, { attempts: 1 });
        const watched = await ctx.startJob('echo', 'hello', { monitor: true });
        const exit = await ctx.receive((m) => m.type === 'EXIT');
        const down = await ctx.receive((m) => m.type === 'DOWN');
        const awaited = await ctx.awaitJob(failing).then(
          () => 'resolved',
          (e) => ({ name: e.name, code: e.code, message: e.message }),
        );
        return { failing: failing.id, watched, exit, down, awaited };
      };`,
    );
    const parent = await t.j.submit({ function: 'trapper', attempts: 1 }, 'trees');
    const done = await t.j.finished(parent.id);
    expect(done.state).toBe('completed');
    const { failing, watched, exit, down, awaited } = done.result as Record<string, { id: string; ref: string }>;
    const failed = { state: 'failed', reason: 'error', message: 'Error: nope' };
    expect(exit).toEqual({ type: 'EXIT', from: `job:${failing}`, job: failing, reason: failed });
    expect(down).toEqual({
      type: 'DOWN',
      ref: watched?.ref,
      pid: `job:${watched?.id}`,
      job: watched?.id,
      reason: 'normal',
      result: 'hello',
    });
    expect(awaited).toEqual({
      name: 'ChildJobFailed',
      code: 'error',
      message: `child job ${failing} failed: error: Error: nope`,
    });
  });

  it('a cancelled parent cancels its linked children running on another node', async () => {
    const parentNode = await startWorker(redis.server.url, { WORKER_CONCURRENCY: '1' });
    await deploy(
      'trees',
      'holder',
      `export default async (_, ctx) => {
        const children = [await ctx.startJob('sleep', { ms: 60000 }), await ctx.startJob('sleep', { ms: 60000 })];
        return Promise.all(children.map((c) => ctx.awaitJob(c)));
      };`,
    );
    const parent = await t.j.submit({ function: 'holder', timeoutMs: 120_000 }, 'trees');
    await until(async () => (await t.j.store.get(parent.id))?.state === 'running');
    // The parent holds the first node's only slot: its children can only run on a second node.
    const childNode = await startWorker(redis.server.url);
    let childIds: readonly string[] = [];
    await until(async () => {
      childIds = (await t.j.store.getOf('trees', parent.id))?.children?.ids ?? [];
      const views = await Promise.all(childIds.map((id) => t.j.store.get(id)));
      return views.length === 2 && views.every((v) => v?.state === 'running' && v.node === childNode.nodeId);
    });
    expect(parentNode.nodeId).not.toBe(childNode.nodeId);
    expect(await t.j.store.cancel(parent.id, 'trees')).toBe('cancelling');
    expect((await t.j.finished(parent.id)).state).toBe('cancelled');
    for (const id of childIds) {
      const child = await t.j.finished(id);
      expect(child).toMatchObject({ state: 'cancelled', exit: { reason: 'cancelled' } });
    }
    expect(await t.j.store.backlog('trees')).toBe(0);
  });

  it('a retried parent meets the children its earlier run started: awaitJob returns their stored result', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'retrier',
      `export default async ({ until }, ctx) => {
        const child = await ctx.startJob('echo', { once: true });
        const result = await ctx.awaitJob(child);
        if (Date.now() < until) throw new Error('not yet');
        return { id: child.id, result };
      };`,
    );
    const parent = await t.j.submit(
      {
        function: 'retrier',
        input: { until: Date.now() + 1000 },
        attempts: 10,
        backoff: { type: 'fixed', delayMs: 200 },
      },
      'trees',
    );
    const done = await t.j.finished(parent.id, 30_000);
    expect(done.state).toBe('completed');
    expect(done.attemptsMade).toBeGreaterThan(1);
    expect(done.result).toMatchObject({ result: { once: true } });
    expect((await t.j.store.getOf('trees', parent.id))?.children?.total).toBe(1);
  });
});

describe('job trees against hostile job code', () => {
  it("a forged tenant in startJob's options is ignored: the child is the parent's tenant's", async () => {
    await startWorker(redis.server.url);
    await deploy(
      'mallory',
      'forger',
      `export default async (_, ctx) => {
        const child = await ctx.startJob('echo', 'mine', { tenant: 'victim', parent: '1' });
        return { id: child.id, result: await ctx.awaitJob(child) };
      };`,
    );
    const parent = await t.j.submit({ function: 'forger' }, 'mallory');
    const done = await t.j.finished(parent.id);
    expect(done.state).toBe('completed');
    const { id } = done.result as { id: string };
    expect(await t.j.store.getOf('mallory', id)).toMatchObject({ tenant: 'mallory', parent: { id: parent.id } });
    expect(await t.j.store.getOf('victim', id)).toBeUndefined();
  });

  it('the children cap and the depth cap refuse with clear errors', async () => {
    await startWorker(redis.server.url, { JOB_MAX_CHILDREN: '2', JOB_TREE_MAX_DEPTH: '1' });
    await deploy(
      'caps',
      'nester',
      `export default async (_, ctx) => ctx.startJob('echo').then(() => 'started', (e) => ({ name: e.name, code: e.code, message: e.message }));`,
    );
    await deploy(
      'caps',
      'greedy',
      `export default async (_, ctx) => {
        const nested = await ctx.startJob('nester');
        await ctx.startJob('echo');
        const third = await ctx.startJob('echo').then(() => 'started', (e) => ({ name: e.name, code: e.code, message: e.message }));
        return { third, nested: await ctx.awaitJob(nested) };
      };`,
    );
    const parent = await t.j.submit({ function: 'greedy' }, 'caps');
    const done = await t.j.finished(parent.id);
    expect(done.state).toBe('completed');
    const { third, nested } = done.result as Record<string, { name: string; code: string; message: string }>;
    expect(third).toMatchObject({ name: 'StartJobRefused', code: 'children_full' });
    expect(third?.message).toContain('a job may start at most 2');
    expect(nested).toMatchObject({ name: 'StartJobRefused', code: 'too_deep' });
    expect(nested?.message).toContain('job trees may be at most 1 deep');
    expect((await t.j.store.getOf('caps', parent.id))?.children?.total).toBe(2);
  });

  it("a child job counts against its tenant's backlog: refused with a clear error when the backlog is full", async () => {
    await startWorker(redis.server.url, { TENANT_BACKLOG_CAP: '2' });
    await deploy(
      'crowded',
      'spawner',
      `export default async (_, ctx) => {
        await ctx.startJob('sleep', { ms: 60000 }, { delayMs: 60000 });
        return ctx.startJob('echo').then(() => 'started', (e) => ({ name: e.name, code: e.code, message: e.message }));
      };`,
    );
    const parent = await t.j.submit({ function: 'spawner' }, 'crowded');
    const done = await t.j.finished(parent.id);
    expect(done.result).toMatchObject({ name: 'StartJobRefused', code: 'backlog_full' });
    expect((done.result as { message: string }).message).toContain(
      'Tenant crowded has 2 jobs not yet ended; the cap is 2',
    );
  });

  it("awaiting a job that is not the job's own child is refused", async () => {
    await startWorker(redis.server.url);
    const stranger = await t.j.submit({ function: 'echo', input: 'not yours' }, 'trees');
    const foreign = await t.j.submit({ function: 'echo', input: 'secret' }, 'victim');
    await t.j.finished(stranger.id);
    await t.j.finished(foreign.id);
    await deploy(
      'trees',
      'snooper',
      `export default async ({ ids }, ctx) => Promise.all(ids.map((id) => ctx.awaitJob(id).then(() => 'read', (e) => e.message)));`,
    );
    const parent = await t.j.submit({ function: 'snooper', input: { ids: [stranger.id, foreign.id] } }, 'trees');
    const done = await t.j.finished(parent.id);
    expect(done.result).toEqual([
      `awaitJob: job ${stranger.id} is not a child of this job (job ${parent.id}).`,
      `awaitJob: job ${foreign.id} is not a child of this job (job ${parent.id}).`,
    ]);
  });

  it('awaitJob of a name that is no job id says so, without telling what the key holds', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'prober',
      `export default async ({ ids }, ctx) => Promise.all(ids.map((id) => ctx.awaitJob(id).then(() => 'read', (e) => e.message)));`,
    );
    const keys = ['bl:schedules:victim', 'bl:open:victim', '1:lock', '../etc'];
    const parent = await t.j.submit({ function: 'prober', input: { ids: keys } }, 'trees');
    const done = await t.j.finished(parent.id);
    expect(done.result).toEqual(keys.map((key) => `awaitJob: "${key}" is no job id.`));
  });

  it('many awaits of one child share one wait, answered together when it ends', async () => {
    await startWorker(redis.server.url);
    await deploy(
      'trees',
      'impatient',
      `export default async (_, ctx) => {
        const child = await ctx.startJob('sleep', { ms: 1500 });
        const all = await Promise.all(Array.from({ length: 5000 }, () => ctx.awaitJob(child)));
        return { answers: all.length, distinct: new Set(all.map((r) => JSON.stringify(r))).size };
      };`,
    );
    const parent = await t.j.submit({ function: 'impatient', attempts: 1, timeoutMs: 60_000 }, 'trees');
    const done = await t.j.finished(parent.id);
    expect(done).toMatchObject({ state: 'completed', result: { answers: 5000, distinct: 1 } });
  });
});
