import { useRedisCluster } from '@beamline/testing/vitest';
import { UnrecoverableError, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_TENANT,
  ControlPublisher,
  describeExit,
  encodeExit,
  FunctionRegistry,
  type JobData,
  JobStore,
  Keys,
  QUEUE_NAME,
  ScheduleStore,
} from '../src/index.js';

/** A real 3-master Redis Cluster: every step of the store runs against it as on one Redis. */
const redisCluster = useRedisCluster();
const keys = new Keys('beamline');
const connections: Cluster[] = [];
let store: JobStore;
let schedules: ScheduleStore;
let worker: Worker<JobData>;

function connect(): Cluster {
  const cluster = new Cluster([...redisCluster.cluster.nodes], { redisOptions: { maxRetriesPerRequest: null } });
  connections.push(cluster);
  return cluster;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  const redis = connect();
  const registry = new FunctionRegistry(redis as never, keys);
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
  store = new JobStore(redis, keys, registry, new ControlPublisher(redis, keys), { backlogCap: 1000 });
  schedules = new ScheduleStore(redis, keys, registry, store.queue, { backlogCap: 1000 });
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  worker = new Worker<JobData>(
    QUEUE_NAME,
    async (job) => {
      if (job.data.input === 'hold') {
        setTimeout(release, 300);
        await released;
        throw new UnrecoverableError(encodeExit(describeExit('cancelled')));
      }
      return job.data.input;
    },
    { connection: JobStore.connection(connect()), prefix: keys.prefix, name: 'node-x', concurrency: 4 },
  );
}, 60_000);

afterAll(async () => {
  await worker?.close(true);
  await store?.close();
  for (const connection of connections) connection.disconnect();
});

describe('JobStore on a 3-master Redis Cluster', () => {
  it('runs a schedule: its runs are jobs of the tenant, produced by the worker; pause and delete leave nothing open', async () => {
    await schedules.upsert('sched', { id: 'tick', function: 'echo', input: 'tock', everyMs: 1000 });
    const ran = await until(
      () => store.list('sched', { limit: 10, state: 'completed' }),
      (page) => page.jobs.length >= 2,
    );
    expect(ran.jobs.slice(0, 2)).toMatchObject([
      { schedule: 'tick', result: 'tock' },
      { schedule: 'tick', result: 'tock' },
    ]);
    expect((await schedules.pause('sched', 'tick'))?.paused).toBe(true);
    expect(await schedules.remove('sched', 'tick')).toBe(true);
    expect(
      await until(
        () => store.openJobs('sched'),
        (open) => open.length === 0,
      ),
    ).toEqual([]);
  });

  it('keeps every key of the queue and its side state in one slot (one hash tag)', async () => {
    const cluster = connections[0] as Cluster;
    const slots = new Set(
      await Promise.all(
        [`${keys.queue}wait`, keys.tenantOpen('acme'), keys.tenantIndex('acme'), keys.function('acme', 'f')].map(
          (key) => cluster.call('CLUSTER', 'KEYSLOT', key) as Promise<number>,
        ),
      ),
    );
    expect(slots.size).toBe(1);
  });

  it('submits (one and a batch), runs, lists and counts the backlog', async () => {
    const one = await store.submit({ function: 'echo', input: { n: 1 } }, 'acme', 'order-1');
    const replay = await store.submit({ function: 'echo', input: { n: 1 } }, 'acme', 'order-1');
    expect(replay).toMatchObject({ replayed: true, sameRequest: true, job: { id: one.job.id } });
    const batch = await store.submitMany(
      Array.from({ length: 20 }, (_, i) => ({ function: 'echo', input: i })),
      'acme',
    );
    const ids = [one.job.id, ...batch.map((j) => j.id)];
    const ended = await until(
      () => Promise.all(ids.map((id) => store.get(id))),
      (views) => views.every((v) => v?.state === 'completed'),
    );
    expect(ended.map((v) => v?.state)).toEqual(ids.map(() => 'completed'));
    expect(ended[0]).toMatchObject({ result: { n: 1 }, node: 'node-x' });
    expect(await store.backlog('acme')).toBe(0);
    const page = await store.list('acme', { limit: 5 });
    expect(page.jobs.map((j) => j.input)).toEqual([19, 18, 17, 16, 15]);
    expect(page.nextCursor).toBe(5);
  });

  it('cancels a job not started (removed) and a running one (it ends cancelled)', async () => {
    const later = await store.submit({ function: 'echo', delayMs: 60_000 }, 'acme');
    expect(await store.cancel(later.job.id, 'acme')).toBe('removed');
    expect(await store.get(later.job.id)).toBeUndefined();
    const held = await store.submit({ function: 'echo', input: 'hold' }, 'acme');
    await until(
      () => store.get(held.job.id),
      (v) => v?.state === 'running',
    );
    expect(await store.cancel(held.job.id, 'acme')).toBe('cancelling');
    const view = await until(
      () => store.get(held.job.id),
      (v) => v?.state === 'cancelled',
    );
    expect(view).toMatchObject({ state: 'cancelled', exit: { reason: 'cancelled' } });
    expect(await store.backlog('acme')).toBe(0);
    expect(await store.retry(held.job.id, 'acme')).toBe(true);
    expect(await store.backlog('acme')).toBe(1);
  });
});
