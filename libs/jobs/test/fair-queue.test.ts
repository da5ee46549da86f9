import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BUILTIN_TENANT,
  ControlPublisher,
  FunctionRegistry,
  type JobData,
  type JobSpec,
  JobStore,
} from '../src/index.js';
import { useStoreHarness } from './store-harness.js';

const harness = useStoreHarness('fair');
const { keys } = harness;
let redis: Redis;
let store: JobStore;

const job = (priority: JobSpec['priority'] = 'normal'): JobSpec => ({ function: 'echo', input: null, priority });

/** The tenants of the waiting jobs, in the order BullMQ will take them. */
async function waitingOrder(): Promise<string[]> {
  const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, -1);
  const tenants = await Promise.all(ids.map((id) => redis.hget(`${keys.queue}${id}`, 'tn')));
  return tenants.map((tenant) => tenant ?? '?');
}

beforeAll(async () => {
  redis = harness.connect();
  const registry = new FunctionRegistry(redis, keys);
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
  store = new JobStore(redis, keys, registry, new ControlPublisher(redis, keys), { backlogCap: 100_000 });
});

beforeEach(async () => {
  await store.queue.obliterate({ force: true });
  await redis.del(`${keys.queue}bl:vt`, keys.tenantOpen('a'), keys.tenantOpen('b'), keys.tenantOpen('c'));
});

afterAll(async () => {
  await store.close();
});

describe('fair queuing between tenants (ADR 0017)', () => {
  it('a tenant that submits, cancels and submits again takes one place a round, not the head every time', async () => {
    await store.submitMany(
      Array.from({ length: 200 }, () => job()),
      'a',
    );
    await store.submit(job(), 'b');
    for (let i = 0; i < 30; i++) {
      const spare = await store.submit(job(), 'b');
      expect(await store.cancel(spare.job.id, 'b')).toBe('removed');
      await store.submit(job(), 'b');
    }
    const order = await waitingOrder();
    expect(order).toHaveLength(231);
    // One of b's a round beside a's: about half of the first 40 places. A design that took the
    // stream's cancelled last job for an empty stream put all 31 of b's at the head.
    const firstForty = order.slice(0, 40);
    expect(firstForty.filter((tenant) => tenant === 'b').length).toBeLessThanOrEqual(22);
    expect(firstForty.filter((tenant) => tenant === 'a').length).toBeGreaterThanOrEqual(18);
  });

  it('a tenant that cancels its waiting backlog newest first gets its rounds back: its next job is near the head', async () => {
    await store.submitMany(
      Array.from({ length: 200 }, () => job()),
      'a',
    );
    // Open jobs count in the cap on how far back a stream may go: b has many, delayed for an hour.
    await store.submitMany(
      Array.from({ length: 300 }, () => ({ ...job(), delayMs: 3_600_000 })),
      'b',
    );
    const backlog = await store.submitMany(
      Array.from({ length: 300 }, () => job()),
      'b',
    );
    for (const view of [...backlog].reverse()) expect(await store.cancel(view.id, 'b')).toBe('removed');
    const next = await store.submit(job(), 'b');
    const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, -1);
    // A design that kept the cancelled backlog's last round put it about 300 places back.
    expect(ids.indexOf(next.job.id)).toBeLessThan(4);
  });

  it('a tenant that cancels the front of its backlog queues its next jobs after the rest of it, not beside it', async () => {
    const aFront = await store.submitMany(
      Array.from({ length: 100 }, () => job()),
      'a',
    );
    await store.submitMany(
      Array.from({ length: 100 }, () => job()),
      'a',
    );
    const front = await store.submitMany(
      Array.from({ length: 100 }, () => job()),
      'b',
    );
    const rest = await store.submitMany(
      Array.from({ length: 100 }, () => job()),
      'b',
    );
    // Both fronts leave (as if run): the head moves to b's other 100, beside a's.
    for (const view of aFront) expect(await store.cancel(view.id, 'a')).toBe('removed');
    for (const view of front) expect(await store.cancel(view.id, 'b')).toBe('removed');
    const next = await store.submitMany(
      Array.from({ length: 10 }, () => job()),
      'b',
    );
    const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, -1);
    const lastOfRest = Math.max(...rest.map((view) => ids.indexOf(view.id)));
    // Giving rounds back for the cancelled front put b's new jobs among its other 100, two of b's
    // a round (a review did it: another tenant's batch took 8–30% longer).
    for (const view of next) expect(ids.indexOf(view.id)).toBeGreaterThan(lastOfRest);
  });

  it("lines each tenant's next job up beside the others', whatever the length of their queues", async () => {
    await store.submitMany(
      Array.from({ length: 200 }, () => job()),
      'a',
    );
    for (let i = 0; i < 3; i++) await store.submit(job(), 'b');
    await store.submit(job(), 'c');
    const order = await waitingOrder();
    expect(order).toHaveLength(204);
    // Round robin from the head: a, then a b c, a b, a b, then the rest of a.
    const positions = (tenant: string) => order.flatMap((t, i) => (t === tenant ? [i] : []));
    expect(Math.max(...positions('b'))).toBeLessThan(8);
    expect(positions('c')[0]).toBeLessThan(4);
    expect(order.slice(8).every((tenant) => tenant === 'a')).toBe(true);
  });

  it('keeps priorities first, and submission order within a tenant and priority', async () => {
    await store.submitMany(
      Array.from({ length: 50 }, () => job('low')),
      'a',
    );
    const normal = await store.submit(job('normal'), 'b');
    const high = await store.submit(job('high'), 'c');
    const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, 1);
    expect(ids).toEqual([high.job.id, normal.job.id]);

    const own: string[] = [];
    for (let i = 0; i < 5; i++) own.push((await store.submit(job('normal'), 'b')).job.id);
    const normals = (await redis.zrange(store.queue.keys.prioritized as string, 0, -1)).filter((id) =>
      own.includes(id),
    );
    expect(normals).toEqual(own);
  });

  it("a tenant's higher priorities order its own jobs, and take at most one job a round each", async () => {
    await store.submitMany(
      Array.from({ length: 100 }, () => job('max')),
      'a',
    );
    await store.submitMany(
      Array.from({ length: 100 }, () => job('low')),
      'a',
    );
    for (let i = 0; i < 3; i++) await store.submit(job('normal'), 'b');
    const order = await waitingOrder();
    const positions = (tenant: string) => order.flatMap((t, i) => (t === tenant ? [i] : []));
    expect(Math.max(...positions('b'))).toBeLessThan(12);
    // Retried, delayed and put-back jobs come back at the same BullMQ priority as the rest.
    const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, -1);
    const stored = await Promise.all(ids.slice(0, 5).map((id) => redis.hget(`${keys.queue}${id}`, 'priority')));
    expect(stored).toEqual(['1', '1', '1', '1', '1']);
  });

  it('does not hold an idle tenant back for the queue it had before', async () => {
    await store.submitMany(
      Array.from({ length: 100 }, () => job()),
      'a',
    );
    await store.queue.obliterate({ force: true });
    await redis.del(keys.tenantOpen('a'));
    await store.submitMany(
      Array.from({ length: 20 }, () => job()),
      'b',
    );
    await store.submit(job(), 'a');
    const order = await waitingOrder();
    expect(order.indexOf('a')).toBeLessThan(3);
  });

  it('a worker takes the jobs in that order: a small tenant does not wait behind a large one', async () => {
    await store.submitMany(
      Array.from({ length: 300 }, () => job()),
      'a',
    );
    const small = await store.submit(job(), 'b');
    const taken: string[] = [];
    harness.worker(
      'node',
      async (running: Job<JobData>) => {
        taken.push(running.id as string);
      },
      1,
    );
    const deadline = Date.now() + 20_000;
    while (!taken.includes(small.job.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(taken.indexOf(small.job.id)).toBeGreaterThanOrEqual(0);
    expect(taken.indexOf(small.job.id)).toBeLessThan(3);
  });

  describe("jobs BullMQ adds back take their turn in their tenant's stream", () => {
    let clock: ReturnType<typeof setInterval> | undefined;
    afterEach(() => clearInterval(clock));

    /** What worker nodes do every 250 ms (apps/worker/src/fair-clock.ts), here every `everyMs`. */
    function runFairClock(everyMs: number): void {
      clock = setInterval(() => void store.requeueAddedBack().catch(() => undefined), everyMs);
    }

    /** A one-slot worker: `process` runs each job; the ids in the order they were taken (attempts included). */
    function consume(process: (running: Job<JobData>) => Promise<unknown>): string[] {
      const taken: string[] = [];
      harness.worker(
        'node',
        async (running) => {
          taken.push(running.id as string);
          return process(running);
        },
        1,
      );
      return taken;
    }

    async function takenAt(taken: string[], id: string, occurrence = 1): Promise<number> {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const positions = taken.flatMap((t, i) => (t === id ? [i] : []));
        if (positions.length >= occurrence) return positions[occurrence - 1] as number;
        if (Date.now() > deadline) return -1;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it("delayed jobs come due take their tenant's turn: the store promotes them before each fetch", async () => {
      await store.submitMany(
        Array.from({ length: 2000 }, () => job()),
        'a',
      );
      const delayed = await store.submit({ ...job(), delayMs: 30 }, 'b');
      const burst = await store.submitMany(
        Array.from({ length: 300 }, () => ({ ...job(), delayMs: 30 })),
        'c',
      );
      await new Promise((resolve) => setTimeout(resolve, 60));
      const taken = consume(async () => undefined);
      expect(await takenAt(taken, delayed.job.id)).toBeLessThan(4);
      // c's 300 come due at once: one a round beside a's, not 300 ahead of a's nor behind all 2,000.
      expect(await takenAt(taken, burst[99]?.id as string)).toBeLessThan(260);
      const tenants = await Promise.all(taken.slice(0, 100).map((id) => redis.hget(`${keys.queue}${id}`, 'tn')));
      expect(tenants.filter((tenant) => tenant === 'a').length).toBeGreaterThanOrEqual(40);
      expect(tenants.filter((tenant) => tenant === 'c').length).toBeGreaterThanOrEqual(40);
    });

    it('a job BullMQ adds back itself waits behind the fair queue until a node requeues it, then goes near the head', async () => {
      await store.submitMany(
        Array.from({ length: 2000 }, () => job()),
        'a',
      );
      const delayed = await store.submit({ ...job(), delayMs: 60_000 }, 'b');
      // BullMQ's own promotion (Job.promote), as for a retry without backoff or a stalled job.
      await (await store.queue.getJob(delayed.job.id))?.promote();
      expect((await waitingOrder()).indexOf('b')).toBe(2000);
      expect(await store.requeueAddedBack()).toBe(1);
      expect((await waitingOrder()).indexOf('b')).toBeLessThan(2);
      expect(await store.requeueAddedBack()).toBe(0);
    });

    it("BullMQ's counter is taken back to the added-back band before it would wrap into the fair range", async () => {
      await redis.set(store.queue.keys.pc as string, 2 ** 32 - 3);
      await store.submit(job(), 'b');
      // Taken back before the add: the job added took the band's first place.
      expect(Number(await redis.get(store.queue.keys.pc as string))).toBe(2 ** 31 + 1);
      await redis.set(store.queue.keys.pc as string, 5);
      expect(await store.requeueAddedBack()).toBe(0);
      expect(Number(await redis.get(store.queue.keys.pc as string))).toBe(2 ** 31);
    });

    it("a retry after BullMQ's fetch dropped its counter still waits in the added-back band, not at the head", async () => {
      const retried = await store.submit({ ...job(), attempts: 2, backoff: { type: 'fixed', delayMs: 0 } }, 'c');
      await store.submitMany(
        Array.from({ length: 2000 }, () => job()),
        'a',
      );
      const pc = store.queue.keys.pc as string;
      const taken = consume(async (running) => {
        if (running.id !== retried.job.id || running.attemptsMade > 0) return;
        // What BullMQ's fetch does when it empties the prioritized set.
        await redis.del(pc);
        throw new Error('first attempt fails');
      });
      const band = 2 ** 32 + 2 ** 31;
      const deadline = Date.now() + 20_000;
      let score: string | null = null;
      while (score === null && Date.now() < deadline) {
        if (taken.includes(retried.job.id))
          score = await redis.zscore(store.queue.keys.prioritized as string, retried.job.id);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Without the counter taken back first, it came back at counter 1: ahead of every job.
      expect(Number(score)).toBeGreaterThanOrEqual(band);
    });

    it('a retry takes its turn again soon, not behind the backlog', async () => {
      await store.submitMany(
        Array.from({ length: 2000 }, () => job()),
        'a',
      );
      const retried = await store.submit({ ...job(), attempts: 2, backoff: { type: 'fixed', delayMs: 0 } }, 'c');
      runFairClock(20);
      const taken = consume(async (running) => {
        if (running.id === retried.job.id && running.attemptsMade === 0) throw new Error('first attempt fails');
      });
      const first = await takenAt(taken, retried.job.id);
      expect(first).toBeGreaterThanOrEqual(0);
      // Without the node's requeue it would come back 2,000 jobs later.
      expect((await takenAt(taken, retried.job.id, 2)) - first).toBeLessThan(400);
    });

    it("a burst of jobs BullMQ adds back itself takes no more than its tenant's share once requeued", async () => {
      await store.submitMany(
        Array.from({ length: 300 }, () => job()),
        'b',
      );
      const delayed = await store.submitMany(
        Array.from({ length: 300 }, () => ({ ...job(), delayMs: 60_000 })),
        'a',
      );
      await Promise.all(delayed.map(async (view) => (await store.queue.getJob(view.id))?.promote()));
      while ((await store.requeueAddedBack()) > 0);
      const order = await waitingOrder();
      const firstHundred = order.slice(0, 100);
      // One a and one b a round (before: every add-back came back ahead of b's whole backlog, or behind it).
      expect(firstHundred.filter((tenant) => tenant === 'b').length).toBeGreaterThanOrEqual(45);
      expect(firstHundred.filter((tenant) => tenant === 'a').length).toBeGreaterThanOrEqual(45);
    });

    it("put-back jobs of a tenant go back into its own stream, and do not push another tenant's job back", async () => {
      await store.submitMany(
        Array.from({ length: 500 }, () => job()),
        'a',
      );
      // 300 of a's jobs are taken and put back (as a concurrency key at its limit puts them back).
      let putBack = 0;
      const storm = harness.worker(
        'storm',
        async (running, token) => {
          if (putBack >= 300) return new Promise(() => undefined);
          putBack++;
          await running.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        },
        1,
      );
      while (putBack < 300) await new Promise((resolve) => setTimeout(resolve, 10));
      await storm.close(true);
      const victims = await store.submitMany(
        Array.from({ length: 20 }, () => job()),
        'b',
      );
      // Due again and promoted: BullMQ adds each back.
      const delayedIds = await redis.zrange(store.queue.keys.delayed as string, 0, -1);
      await Promise.all(delayedIds.map(async (id) => (await store.queue.getJob(id))?.promote()));
      while ((await store.requeueAddedBack()) > 0);
      const ids = await redis.zrange(store.queue.keys.prioritized as string, 0, -1);
      // The storm worker holds a's 301st job active if it fetched it before it closed (a CI run
      // saw it not fetched: 520 waiting).
      expect(ids.length + (await store.queue.getActiveCount())).toBe(520);
      // b's 20 jobs one a round beside a's: all among the first 40 (a design that gave put-backs the
      // head's round let 300 of a's go ahead of most of them).
      expect(Math.max(...victims.map((victim) => ids.indexOf(victim.id)))).toBeLessThan(41);
    });
  });
});
