import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BacklogFullError,
  BUILTIN_TENANT,
  BULLMQ_VERSION,
  ControlPublisher,
  decodeControl,
  describeExit,
  encodeExit,
  FunctionRegistry,
  functionRunningKey,
  idempotentJobId,
  type JobData,
  JobSpecError,
  JobStore,
  Keys,
  keyRunningKey,
  pausedMember,
  slotWaitersKey,
} from '../src/index.js';
import { until, useStoreHarness } from './store-harness.js';

const { keys, connect, worker, workers } = useStoreHarness('store');
let redis: Redis;
let registry: FunctionRegistry;
let store: JobStore;

const storeWith = (options: ConstructorParameters<typeof JobStore>[4]) =>
  new JobStore(connect(), keys, registry, new ControlPublisher(redis, keys), options);

beforeAll(async () => {
  redis = connect();
  registry = new FunctionRegistry(redis, keys);
  store = storeWith({ backlogCap: 100_000 });
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
});

afterAll(async () => {
  await store.close();
});

describe('JobStore: its keys and scripts', () => {
  it('wraps the BullMQ release that is installed', () => {
    const require = createRequire(import.meta.url);
    const installed = JSON.parse(readFileSync(require.resolve('bullmq/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(BULLMQ_VERSION);
  });

  it('keeps every key of the queue and its side state under one hash tag', () => {
    for (const key of [keys.queue, keys.tenantIndex('acme'), keys.tenantOpen('acme'), keys.function('acme', 'f')]) {
      expect(key.startsWith('{store}:')).toBe(true);
    }
    expect(new Keys('{already}').prefix).toBe('{already}');
  });
});

describe('JobStore.submit', () => {
  it('pins the function version, merges defaults under the job, and counts it in the backlog in one step', async () => {
    await registry.deploy('acme', 'limited', 'export default async () => 1;', {
      timeoutMs: 500,
      memoryMb: 64,
      priority: 'high',
    });
    const before = await store.backlog('acme');
    const { job } = await store.submit({ function: 'limited', cpuMs: 100, timeoutMs: 900 }, 'acme');
    expect(job).toMatchObject({ state: 'waiting', function: 'limited', version: 1, tenant: 'acme', priority: 'high' });
    const read = await store.get(job.id);
    expect(read).toMatchObject({ state: 'waiting', attempts: 3, attemptsMade: 0, function: 'limited' });
    const raw = await store.queue.getJob(job.id);
    expect(raw?.data.limits).toEqual({ timeoutMs: 900, cpuMs: 100, memoryMb: 64 });
    expect(raw?.opts.priority).toBe(2);
    expect(await store.backlog('acme')).toBe(before + 1);
    expect(await redis.zscore(keys.tenantIndex('acme'), job.id)).not.toBeNull();
  });

  it('refuses bad submissions with an error naming the field, and writes nothing', async () => {
    const before = await store.backlog('acme');
    const attempt = (spec: object) => store.submit(spec as never, 'acme');
    await expect(attempt({ function: 'nope' })).rejects.toMatchObject({ field: 'function' });
    await expect(attempt({ function: 'echo', priority: 'urgent' })).rejects.toMatchObject({ field: 'priority' });
    await expect(attempt({ function: 'echo', backoff: { type: 'fixed', delayMs: -5 } })).rejects.toMatchObject({
      field: 'backoff.delayMs',
    });
    await expect(attempt({ function: 'echo', colour: 'red' })).rejects.toBeInstanceOf(JobSpecError);
    await expect(attempt({ function: 'echo@0' })).rejects.toThrow(/name@version/);
    await expect(store.submit({ function: 'echo' }, BUILTIN_TENANT)).rejects.toMatchObject({ field: 'tenant' });
    await expect(store.submit({ function: 'echo' }, 'Not A Tenant')).rejects.toMatchObject({ field: 'tenant' });
    await expect(store.submitMany([{ function: 'echo' }, { function: 'missing' }], 'acme')).rejects.toMatchObject({
      field: '1.function',
    });
    expect(await store.backlog('acme')).toBe(before);
  });

  it('replays an idempotency key per tenant: the same job, counted once, even for racing submissions', async () => {
    const racing = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.submit({ function: 'echo', input: i === 0 ? 1 : 1 }, 'idem', 'order-7'),
      ),
    );
    const ids = new Set(racing.map((s) => s.job.id));
    expect(ids).toEqual(new Set([idempotentJobId('idem', 'order-7')]));
    expect(racing.filter((s) => !s.replayed)).toHaveLength(1);
    expect(racing.every((s) => s.sameRequest)).toBe(true);
    const conflicting = await store.submit({ function: 'echo', input: 2 }, 'idem', 'order-7');
    expect(conflicting).toMatchObject({ replayed: true, sameRequest: false });
    expect((await store.get(conflicting.job.id))?.input).toBe(1);
    const otherTenant = await store.submit({ function: 'echo', input: 3 }, 'globex', 'order-7');
    expect(otherTenant.job.id).not.toBe(conflicting.job.id);
    expect(await store.backlog('idem')).toBe(1);
  });

  it('enforces the backlog cap inside the submit step: a batch is accepted whole or not at all', async () => {
    const capped = storeWith({ backlogCap: 5 });
    await capped.submitMany([{ function: 'echo' }, { function: 'echo' }, { function: 'echo' }], 'capped');
    const batch = capped.submitMany([{ function: 'echo' }, { function: 'echo' }, { function: 'echo' }], 'capped');
    await expect(batch).rejects.toBeInstanceOf(BacklogFullError);
    await expect(batch).rejects.toMatchObject({ backlog: 3, cap: 5 });
    expect(await capped.backlog('capped')).toBe(3);
    // 20 racing submissions for the 2 places left: exactly 2 are accepted.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => capped.submit({ function: 'echo' }, 'capped')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(await capped.backlog('capped')).toBe(5);
    await capped.close();
  });

  it('submits to the version current now, even when a cached resolution went stale', async () => {
    await registry.deploy('fresh', 'fn', 'export default async () => 1;');
    expect((await store.submit({ function: 'fn' }, 'fresh')).job.version).toBe(1);
    // Another API instance deploys v2; this instance's cache still says v1.
    await new FunctionRegistry(redis, keys).deploy('fresh', 'fn', 'export default async () => 2;');
    expect((await store.submit({ function: 'fn' }, 'fresh')).job.version).toBe(2);
    // A built-in's name cannot be taken: its jobs keep running the built-in.
    expect((await store.submit({ function: 'echo' }, 'fresh')).job.version).toBe(1);
    await expect(
      new FunctionRegistry(redis, keys).deploy('fresh', 'echo', 'export default async () => "mine";'),
    ).rejects.toMatchObject({ name: 'ReservedNameError' });
    const builtin = await store.submit({ function: 'echo' }, 'fresh');
    expect((await store.queue.getJob(builtin.job.id))?.data.functionTenant).toBe(BUILTIN_TENANT);
    // A deleted function can no longer be submitted.
    await new FunctionRegistry(redis, keys).delete('fresh', 'fn');
    await expect(store.submit({ function: 'fn' }, 'fresh')).rejects.toMatchObject({ field: 'function' });
  });
});

describe('JobStore: runs end in one step with their backlog', () => {
  it('a job waiting for a slot comes back the moment the run holding it ends, not when its wait runs out', async () => {
    await registry.deploy('slots', 'one', 'export default async () => 1;', { concurrency: 1 });
    const submitted = await Promise.all([1, 2, 3].map(() => store.submit({ function: 'one' }, 'slots')));
    const ids = submitted.map((s) => s.job.id);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const admitted: string[] = [];
    const waited: string[] = [];
    const reasons = new Set<string>();
    worker('node-slots', async (job, token) => {
      if (job.data.tenant !== 'slots') return 'not this test';
      // Put back for an hour at most: only a wake-up can bring a waiting job back within the test.
      const verdict = await store.admit(job, token ?? '', true, 3_600_000);
      if (!verdict.admitted) {
        reasons.add(verdict.reason);
        waited.push(job.id as string);
        throw new DelayedError();
      }
      admitted.push(job.id as string);
      if (admitted.length === 1) await held;
      return 'ran';
    });
    await until(
      async () => waited.length,
      (count) => count === 2,
    );
    expect([...reasons]).toEqual(['concurrency']);
    const [holder] = admitted as [string];
    const [waiting, cancelled] = ids.filter((id) => id !== holder) as [string, string];
    const waiters = slotWaitersKey(keys, functionRunningKey(keys, 'slots', 'one'));
    expect((await redis.zrange(waiters, 0, -1)).sort()).toEqual([waiting, cancelled].sort());
    expect(await redis.hget(`${keys.queue}${waiting}`, 'pk')).toBe(waiters);
    // A cancel takes a waiting job out of the waiters.
    expect(await store.cancel(cancelled, 'slots')).toBe('removed');
    expect(await redis.zrange(waiters, 0, -1)).toEqual([waiting]);
    release();
    const views = await until(
      () => Promise.all([store.get(holder), store.get(waiting)]),
      ([a, b]) => a?.state === 'completed' && b?.state === 'completed',
    );
    expect(views.map((view) => view?.state)).toEqual(['completed', 'completed']);
    // Taken once while it waited, then admitted: the ended run woke it.
    expect(waited.filter((id) => id === waiting)).toHaveLength(1);
    expect(await redis.exists(waiters)).toBe(0);
    expect(await redis.hexists(`${keys.queue}${waiting}`, 'pk')).toBe(0);
  });

  it('jobs waiting for a slot come back in the order they first waited, one per ended run', async () => {
    await registry.deploy('inline', 'one', 'export default async () => 1;', { concurrency: 1 });
    const ran: string[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    worker(
      'node-inline',
      async (job, token) => {
        if (job.data.tenant !== 'inline') return 'not this test';
        const verdict = await store.admit(job, token ?? '', true, 3_600_000);
        if (!verdict.admitted) throw new DelayedError();
        ran.push(job.id as string);
        if (job.data.input === 'hold') await held;
        return 'ran';
      },
      4,
    );
    const holder = (await store.submit({ function: 'one', input: 'hold' }, 'inline')).job.id;
    await until(
      async () => ran.length,
      (count) => count === 1,
    );
    const waiters = slotWaitersKey(keys, functionRunningKey(keys, 'inline', 'one'));
    // One at a time, each waiting before the next is submitted: the order they first waited in.
    const inLine: string[] = [];
    for (let i = 0; i < 12; i++) {
      inLine.push((await store.submit({ function: 'one', input: i }, 'inline')).job.id);
      await until(
        () => redis.zcard(waiters),
        (count) => count === inLine.length,
      );
    }
    release();
    await until(
      async () => ran.length,
      (count) => count === 1 + inLine.length,
    );
    // With SPOP (no order) twelve waiters ran in submission order once in 479 million.
    expect(ran).toEqual([holder, ...inLine]);
    expect(await redis.exists(waiters)).toBe(0);
  });

  it('a run retried after a backoff frees its slot in the same step: a job waiting for it runs meanwhile', async () => {
    await registry.deploy('retrier', 'one', 'export default async () => 1;', { concurrency: 1 });
    const admitted: string[] = [];
    const waited: string[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    worker('node-retrier', async (job, token) => {
      if (job.data.tenant !== 'retrier') return 'not this test';
      const verdict = await store.admit(job, token ?? '', true, 3_600_000);
      if (!verdict.admitted) {
        waited.push(job.id as string);
        throw new DelayedError();
      }
      admitted.push(job.id as string);
      if (job.data.input === 'fail') {
        await held;
        throw new Error('retried after its backoff');
      }
      return 'ran';
    });
    const flaky = (
      await store.submit(
        { function: 'one', input: 'fail', attempts: 2, backoff: { type: 'fixed', delayMs: 3_600_000 } },
        'retrier',
      )
    ).job.id;
    await until(
      async () => admitted.length,
      (count) => count === 1,
    );
    const waiting = (await store.submit({ function: 'one', input: 'ok' }, 'retrier')).job.id;
    await until(
      async () => waited.length,
      (count) => count === 1,
    );
    release();
    const views = await until(
      () => Promise.all([store.get(flaky), store.get(waiting)]),
      ([a, b]) => a?.state === 'delayed' && b?.state === 'completed',
    );
    expect(views.map((view) => view?.state)).toEqual(['delayed', 'completed']);
    // Both left the running set: the retried run in its retry step, the other as it finished.
    expect(await redis.smembers(functionRunningKey(keys, 'retrier', 'one'))).toEqual([]);
  });

  it('a job woken for a slot it cannot take (another of its limits is full) hands the wake-up on', async () => {
    await registry.deploy('handon', 'f1', 'export default async () => 1;', { concurrency: 1 });
    await registry.deploy('handon', 'f2', 'export default async () => 2;');
    const key = { concurrencyKey: 'K', concurrencyLimit: 1 };
    const releases = new Map<string, () => void>();
    const admitted = new Set<string>();
    worker(
      'node-handon',
      async (job, token) => {
        if (job.data.tenant !== 'handon') return 'not this test';
        const verdict = await store.admit(job, token ?? '', true, 3_600_000);
        if (!verdict.admitted) throw new DelayedError();
        admitted.add(job.id as string);
        if (job.data.input === 'hold') await new Promise<void>((resolve) => releases.set(job.id as string, resolve));
        return 'ran';
      },
      8,
    );
    const submit = async (fn: string, input: string, limits: object = {}) =>
      (await store.submit({ function: fn, input, ...limits }, 'handon')).job.id;
    const keyHolder = await submit('f2', 'hold', key);
    await until(
      async () => admitted.has(keyHolder),
      (held) => held,
    );
    // Ten of f1's jobs wait for K while f1 has room; then f1's one slot is taken.
    const f1Waiters = await Promise.all(Array.from({ length: 10 }, () => submit('f1', 'quick', key)));
    const keyWaiters = slotWaitersKey(keys, keyRunningKey(keys, 'handon', 'K'));
    await until(
      () => redis.zcard(keyWaiters),
      (count) => count === 10,
    );
    const f1Holder = await submit('f1', 'hold');
    await until(
      async () => admitted.has(f1Holder),
      (held) => held,
    );
    const other = await submit('f2', 'quick', key);
    await until(
      () => redis.zcard(keyWaiters),
      (count) => count === 11,
    );
    // K frees: whichever waiter is woken, f2's job runs while f1's slot stays held.
    releases.get(keyHolder)?.();
    const view = await until(
      () => store.get(other),
      (job) => job?.state === 'completed',
    );
    expect(view?.state).toBe('completed');
    expect(f1Waiters.filter((id) => admitted.has(id))).toEqual([]);
    releases.get(f1Holder)?.();
  });

  it('a completed run leaves the backlog; a failed one that retries stays; its last failure leaves it', async () => {
    const ok = await store.submit({ function: 'echo', input: { n: 1 } }, 'runs');
    const flaky = await store.submit(
      { function: 'echo', input: 'fail', attempts: 2, backoff: { type: 'fixed', delayMs: 1 } },
      'runs',
    );
    expect(await store.backlog('runs')).toBe(2);
    const seen: number[] = [];
    worker('node-a', async (job) => {
      if (job.data.input !== 'fail') return { doubled: 2 };
      seen.push(job.attemptsMade);
      const exit = describeExit({ error: new TypeError('boom') });
      throw new Error(encodeExit(exit));
    });
    const done = await until(
      () => Promise.all([store.get(ok.job.id), store.get(flaky.job.id)]),
      ([a, b]) => a?.state === 'completed' && b?.state === 'failed',
    );
    expect(done[0]).toMatchObject({ state: 'completed', result: { doubled: 2 }, node: 'node-a' });
    expect(done[1]).toMatchObject({
      state: 'failed',
      attemptsMade: 2,
      exit: { reason: 'error', message: 'TypeError: boom' },
    });
    expect(seen).toEqual([0, 1]);
    expect(await store.backlog('runs')).toBe(0);
  });

  it("keeps each tenant's failed jobs to its allowance: its own oldest go, never another tenant's", async () => {
    const failing = storeWith({ backlogCap: 100_000 });
    await failing.keepFailedPerTenant(5);
    try {
      const other = await failing.submit({ function: 'echo', input: 'fail', attempts: 1 }, 'patient');
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        ids.push((await failing.submit({ function: 'echo', input: 'fail', attempts: 1 }, 'failing')).job.id);
      }
      worker(
        'node-f',
        async () => {
          throw new UnrecoverableError(encodeExit(describeExit({ error: new Error('no') })));
        },
        1,
      );
      const states = () => Promise.all([other.job.id, ...ids].map((id) => failing.get(id)));
      // Jobs run in the order they were submitted: the last one failed means all did.
      await until(
        () => failing.get(ids.at(-1) as string),
        (view) => view?.state === 'failed',
      );
      const views = await states();
      expect(views[0]?.state).toBe('failed');
      const kept = ids.filter((_, i) => views[i + 1] !== undefined);
      expect(kept).toEqual(ids.slice(-5));
      expect(await redis.exists(`${keys.queue}${ids[0]}`, `${keys.queue}${ids[0]}:logs`)).toBe(0);
      expect(await redis.zcard(keys.tenantFailed('failing'))).toBe(5);
      expect((await failing.list('failing', { limit: 100 })).jobs.map((job) => job.id).sort()).toEqual(
        [...kept].sort(),
      );
      expect(await failing.backlog('failing')).toBe(0);
    } finally {
      await failing.keepFailedPerTenant(10_000);
      await failing.close();
    }
  });

  it("keeps each tenant's completed jobs to its bytes: its own oldest go, never another tenant's", async () => {
    const keeping = storeWith({ backlogCap: 100_000 });
    await keeping.keepCompletedBytesPerTenant(300_000);
    try {
      const other = await keeping.submit({ function: 'echo', input: 'small' }, 'modest');
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push((await keeping.submit({ function: 'echo', input: 'big' }, 'hoarding')).job.id);
      }
      // Each result is 100 kB: about three fit the 300 kB allowance.
      worker('node-c', async (job) => (job.data.input === 'big' ? 'r'.repeat(100_000) : 'ok'), 1);
      await until(
        () => keeping.get(ids.at(-1) as string),
        (view) => view?.state === 'completed',
      );
      const views = await Promise.all(ids.map((id) => keeping.get(id)));

      const kept = ids.filter((_, i) => views[i] !== undefined);
      expect(kept.length).toBeGreaterThanOrEqual(1);
      expect(kept.length).toBeLessThanOrEqual(3);
      expect(kept).toEqual(ids.slice(-kept.length));
      expect(await redis.exists(`${keys.queue}${ids[0]}`)).toBe(0);
      expect(Number(await redis.get(keys.tenantCompletedBytes('hoarding')))).toBeLessThanOrEqual(300_000);
      expect(await redis.zcard(keys.tenantCompleted('hoarding'))).toBe(kept.length);
      expect((await keeping.list('hoarding', { limit: 100 })).jobs.map((job) => job.id).sort()).toEqual(
        [...kept].sort(),
      );
      expect(await keeping.get(other.job.id)).toMatchObject({ state: 'completed', result: 'ok' });
    } finally {
      await keeping.keepCompletedBytesPerTenant(256 * 1024 * 1024);
      await keeping.close();
    }
  });

  it('a job that ends as cancelled shows the cancelled state, and retry opens it again (one of racing retries wins)', async () => {
    const { job } = await store.submit({ function: 'echo' }, 'retry');
    worker('node-b', async () => {
      throw new UnrecoverableError(encodeExit(describeExit('cancelled')));
    });
    expect(
      (
        await until(
          () => store.get(job.id),
          (j) => j?.state === 'cancelled',
        )
      )?.exit?.reason,
    ).toBe('cancelled');
    expect(await store.backlog('retry')).toBe(0);
    // Paused, not closed: a closing Worker may still take the job retried next.
    await Promise.all(workers.map((w) => w.pause()));
    const retried = await Promise.all(Array.from({ length: 5 }, () => store.retry(job.id, 'retry')));
    expect(retried.filter(Boolean)).toHaveLength(1);
    expect(await store.get(job.id)).toMatchObject({ state: 'waiting', attemptsMade: 0, exit: undefined });
    expect(await store.backlog('retry')).toBe(1);
    expect(await store.retry(job.id, 'retry')).toBe(false);
    expect(await store.retry(job.id, 'someone-else')).toBe(false);
  });

  it('a retry counts against the backlog cap in the same step', async () => {
    const capped = storeWith({ backlogCap: 1 });
    const { job } = await capped.submit({ function: 'echo' }, 'retrycap');
    worker('node-e', async () => {
      throw new UnrecoverableError(encodeExit(describeExit({ error: new Error('no') })));
    });
    await until(
      () => capped.get(job.id),
      (j) => j?.state === 'failed',
    );
    // Paused, not closed: a closing Worker may still take the job retried next.
    await Promise.all(workers.map((w) => w.pause()));
    await capped.submit({ function: 'echo', delayMs: 60_000 }, 'retrycap');
    await expect(capped.retry(job.id, 'retrycap')).rejects.toBeInstanceOf(BacklogFullError);
    expect(await capped.backlog('retrycap')).toBe(1);
    expect((await capped.get(job.id))?.state).toBe('failed');
    await capped.close();
  });
});

describe('JobStore.cancel', () => {
  it('removes a job not started, and the backlog and index with it; another tenant cannot see it', async () => {
    const { job } = await store.submit({ function: 'echo', delayMs: 60_000 }, 'cancel');
    expect(job.state).toBe('delayed');
    expect(await store.cancel(job.id, 'intruder')).toBe('not_found');
    expect(await store.cancel(job.id, 'cancel')).toBe('removed');
    expect(await store.get(job.id)).toBeUndefined();
    expect(await store.backlog('cancel')).toBe(0);
    expect(await redis.zscore(keys.tenantIndex('cancel'), job.id)).toBeNull();
    expect(await store.cancel('12345678', 'cancel')).toBe('not_found');
  });

  it('tells which functions are paused, per tenant, in one read of those functions only', async () => {
    await registry.deploy('pauser', 'a', 'export default async () => 1;');
    await registry.deploy('pauser', 'b', 'export default async () => 1;');
    expect(await registry.setPaused('pauser', 'a', true)).toBe(true);
    const among = [pausedMember('pauser', 'a'), pausedMember('pauser', 'b'), pausedMember('other', 'a')];
    expect(await store.pausedAmong(among)).toEqual([true, false, false]);
    expect(await store.pausedAmong([])).toEqual([]);
    expect(await registry.setPaused('pauser', 'a', false)).toBe(true);
    expect(await store.pausedAmong(among)).toEqual([false, false, false]);
  });

  it('marks a running job and tells the node that runs it; the mark survives for a node that takes it again', async () => {
    const subscriber = connect();
    const heard: string[] = [];
    subscriber.on('message', (_channel, text) => heard.push(text));
    await subscriber.subscribe(keys.control('node-c'));
    let release: () => void = () => undefined;
    const started = new Promise<Job<JobData>>((resolve) => {
      worker('node-c', async (job) => {
        resolve(job);
        await new Promise<void>((r) => {
          release = r;
        });
        throw new UnrecoverableError(encodeExit(describeExit('cancelled')));
      });
    });
    const { job } = await store.submit({ function: 'echo' }, 'cancel');
    await started;
    expect((await store.get(job.id))?.state).toBe('running');
    expect(await store.cancel(job.id, 'cancel')).toBe('cancelling');
    const message = await until(
      async () => heard[0],
      (m) => m !== undefined,
    );
    expect(decodeControl(message as string)).toEqual({ type: 'cancel', jobId: job.id, tenant: 'cancel', attempt: 1 });
    expect((await store.queue.getJob(job.id))?.data.cancelled).toBe(true);
    expect(await store.cancel(job.id, 'cancel')).toBe('cancelling');
    release();
    expect(
      (
        await until(
          () => store.get(job.id),
          (j) => j?.state === 'cancelled',
        )
      )?.state,
    ).toBe('cancelled');
    expect(await store.cancel(job.id, 'cancel')).toBe('finished');
    expect(await store.backlog('cancel')).toBe(0);
    // Retried, it runs again without the mark.
    expect(await store.retry(job.id, 'cancel')).toBe(true);
    expect((await store.queue.getJob(job.id))?.data.cancelled).toBeUndefined();
  });
});

describe('JobStore.logPage', () => {
  it("reads an ended job's log in pages, for its tenant only, and the log goes with the job", async () => {
    worker('node-logs', async () => 'done');
    const { job } = await store.submit({ function: 'echo' }, 'logger');
    await store.appendLogs(
      job.id,
      Array.from({ length: 5 }, (_, i) => `line ${i}`),
    );
    await until(
      () => store.get(job.id),
      (j) => j?.state === 'completed',
    );
    expect(await store.logPage('logger', job.id, 0, 2)).toEqual({ logs: ['line 0', 'line 1'], total: 5 });
    expect(await store.logPage('logger', job.id, 4, 2)).toEqual({ logs: ['line 4'], total: 5 });
    expect(await store.logPage('logger', job.id, 9, 2)).toEqual({ logs: [], total: 5 });
    expect(await store.logPage('intruder', job.id, 0, 2)).toBeUndefined();
    expect(await store.logPage('logger', '987654321', 0, 2)).toBeUndefined();
    await store.queue.remove(job.id);
    expect(await store.logPage('logger', job.id, 0, 2)).toBeUndefined();
    expect(await redis.exists(`${keys.queue}${job.id}:logs`)).toBe(0);
  });
});

describe('JobStore.list', () => {
  it("pages a tenant's jobs newest first, filters by state and function, and drops expired ids", async () => {
    const submitted = [];
    for (let i = 0; i < 7; i++) submitted.push((await store.submit({ function: 'echo', input: i }, 'lister')).job.id);
    await store.queue.remove(submitted[3] as string);
    await redis.zadd(keys.tenantIndex('lister'), Date.now() + 1000, '99999999'); // an id whose job expired
    const first = await store.list('lister', { limit: 4 });
    expect(first.jobs.map((j) => j.input)).toEqual([6, 5, 4, 2]);
    const second = await store.list('lister', { limit: 4, cursor: first.nextCursor });
    expect(second.jobs.map((j) => j.input)).toEqual([1, 0]);
    expect(second.nextCursor).toBeUndefined();
    expect(await redis.zscore(keys.tenantIndex('lister'), '99999999')).toBeNull();
    expect((await store.list('lister', { limit: 10, state: 'completed' })).jobs).toEqual([]);
    expect((await store.list('lister', { limit: 10, function: 'other' })).jobs).toEqual([]);
    expect(await store.backlog('lister')).toBe(6);
  });
});

describe('JobStore under concurrent callers', () => {
  it('keeps each backlog equal to the jobs not yet ended through racing submits, cancels, runs and retries', async () => {
    const tenants = ['t1', 't2', 't3'];
    const submitted = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        store.submit(
          { function: 'echo', input: i % 7 === 0 ? 'fail' : i, attempts: 1 },
          tenants[i % 3] as string,
          i % 5 === 0 ? `key-${i % 50}` : undefined,
        ),
      ),
    );
    worker(
      'node-d',
      async (job) => {
        if (job.data.input === 'fail') throw new Error(encodeExit(describeExit({ error: new Error('no') })));
        return job.data.input;
      },
      8,
    );
    const ids = submitted.map((s) => s.job);
    await Promise.all([
      ...ids.filter((_, i) => i % 4 === 0).map((j) => store.cancel(j.id, j.tenant)),
      ...ids.filter((_, i) => i % 6 === 0).map((j) => store.retry(j.id, j.tenant)),
    ]);
    const settle = async () => {
      for (const tenant of tenants) {
        const open = await store.openJobs(tenant);
        const states = await Promise.all(open.map((id) => store.get(id)));
        const notEnded = states.filter((j) => j && !['completed', 'failed', 'cancelled'].includes(j.state));
        if (notEnded.length !== open.length) return false;
      }
      return true;
    };
    expect(await until(settle, Boolean, 20_000)).toBe(true);
    await until(
      async () => (await Promise.all(tenants.map((t) => store.backlog(t)))).reduce((a, b) => a + b, 0),
      (n) => n === 0,
      20_000,
    );
    for (const tenant of tenants) expect(await store.backlog(tenant)).toBe(0);
  });
});
