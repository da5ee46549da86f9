import { useRedisServer } from '@beamline/testing/vitest';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BUILTIN_TENANT,
  ControlPublisher,
  FunctionRegistry,
  type JobData,
  type JobSpec,
  JobStore,
  Keys,
  QUEUE_NAME,
} from '../src/index.js';

const redisServer = useRedisServer();
const keys = new Keys('fair');
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
  redis = new Redis(redisServer.server.url, { maxRetriesPerRequest: null });
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
  redis.disconnect();
});

describe('fair queuing between tenants (ADR 0017)', () => {
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
    const connection = JobStore.connection(new Redis(redisServer.server.url, { maxRetriesPerRequest: null }));
    const worker = new Worker<JobData>(
      QUEUE_NAME,
      async (running: Job<JobData>) => {
        taken.push(running.id as string);
      },
      { connection, prefix: keys.prefix, concurrency: 1 },
    );
    try {
      const deadline = Date.now() + 20_000;
      while (!taken.includes(small.job.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(taken.indexOf(small.job.id)).toBeGreaterThanOrEqual(0);
      expect(taken.indexOf(small.job.id)).toBeLessThan(3);
    } finally {
      await worker.close(true);
      connection.disconnect();
    }
  });

  describe('jobs BullMQ adds back take their turn at the head of the queue', () => {
    const workers: Worker[] = [];
    const connections: Redis[] = [];
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.close(true)));
      for (const connection of connections.splice(0)) connection.disconnect();
    });

    /** A one-slot worker: `process` runs each job; resolves the ids in the order they were taken (attempts included). */
    function consume(process: (running: Job<JobData>, token: string | undefined) => Promise<unknown>): string[] {
      const taken: string[] = [];
      const connection = new Redis(redisServer.server.url, { maxRetriesPerRequest: null });
      connections.push(connection);
      const worker = new Worker<JobData>(
        QUEUE_NAME,
        async (running, token) => {
          taken.push(running.id as string);
          return process(running, token);
        },
        { connection: JobStore.connection(connection), prefix: keys.prefix, concurrency: 1 },
      );
      workers.push(worker as Worker);
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

    it("a delay come due and a retry go near the head, not behind another tenant's backlog", async () => {
      await store.submitMany(
        Array.from({ length: 2000 }, () => job()),
        'a',
      );
      const delayed = await store.submit({ ...job(), delayMs: 30 }, 'b');
      const retried = await store.submit({ ...job(), attempts: 2, backoff: { type: 'fixed', delayMs: 0 } }, 'c');
      await new Promise((resolve) => setTimeout(resolve, 60));
      const taken = consume(async (running) => {
        if (running.id === retried.job.id && running.attemptsMade === 0) throw new Error('first attempt fails');
      });
      const first = await takenAt(taken, retried.job.id);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(await takenAt(taken, delayed.job.id)).toBeLessThan(6);
      expect((await takenAt(taken, retried.job.id, 2)) - first).toBeLessThan(8);
    });

    it('after a storm of put-back jobs, the clock a node aligns brings the next add-back to the head', async () => {
      await store.submitMany(
        Array.from({ length: 1000 }, () => job()),
        'a',
      );
      // 600 of a's jobs are taken and put back (as a paused function's are): BullMQ counts each.
      let putBack = 0;
      const storm = consume(async (running, token) => {
        if (putBack >= 600) return new Promise(() => undefined);
        putBack++;
        await running.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      });
      while (putBack < 600) await new Promise((resolve) => setTimeout(resolve, 10));
      await workers[0]?.close(true);
      expect(storm.length).toBeGreaterThanOrEqual(600);
      const delayed = await store.submit({ ...job(), delayMs: 20 }, 'b');
      await new Promise((resolve) => setTimeout(resolve, 40));
      await store.alignFairClock();
      const taken = consume(async () => undefined);
      expect(await takenAt(taken, delayed.job.id)).toBeLessThan(6);
    });
  });
});
