import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BUILTIN_TENANT,
  ControlPublisher,
  FunctionRegistry,
  type JobData,
  JobSpecError,
  JobStore,
  ScheduleCapError,
  ScheduleStore,
  type ScheduleStoreOptions,
} from '../src/index.js';
import { until as untilDone, useStoreHarness } from './store-harness.js';

const harness = useStoreHarness('sched');
const { keys, connect, workers } = harness;
let redis: Redis;
let registry: FunctionRegistry;
let jobs: JobStore;
let schedules: ScheduleStore;

/** A BullMQ Worker on a store connection, as worker nodes run it. */
const worker = (process: (job: Job<JobData>) => Promise<unknown> = async () => 'ok') =>
  harness.worker('node-1', process);

function scheduleStore(options: ScheduleStoreOptions = {}): ScheduleStore {
  return new ScheduleStore(connect(), keys, registry, jobs.queue, options);
}

const until = <T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000) => untilDone(read, done, ms);

const indexed = async (tenant: string) => redis.zrange(keys.tenantIndex(tenant), 0, -1);

beforeAll(async () => {
  redis = connect();
  registry = new FunctionRegistry(redis, keys);
  jobs = new JobStore(connect(), keys, registry, new ControlPublisher(redis, keys), { backlogCap: 1000 });
  schedules = scheduleStore({ backlogCap: 1000 });
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
});

afterAll(async () => {
  await jobs.close();
});

describe('ScheduleStore', () => {
  it('creates a schedule whose first run is a job of the tenant, in its index and backlog, naming the schedule', async () => {
    const { schedule, created } = await schedules.upsert('t-create', {
      id: 'tick',
      function: 'echo',
      input: { n: 1 },
      everyMs: 60_000,
      priority: 'high',
    });
    expect(created).toBe(true);
    expect(schedule.spec).toMatchObject({ id: 'tick', function: 'echo', everyMs: 60_000 });
    const detail = await schedules.get('t-create', 'tick');
    const first = detail?.lastRuns[0];
    expect(first).toBeDefined();
    expect(detail?.nextRuns).toHaveLength(5);
    expect((detail?.nextRuns[1] ?? 0) - (detail?.nextRuns[0] ?? 0)).toBe(60_000);
    const job = await jobs.getOf('t-create', first?.jobId as string);
    expect(job).toMatchObject({
      tenant: 't-create',
      function: 'echo',
      input: { n: 1 },
      schedule: 'tick',
      priority: 'high',
    });
    expect(await indexed('t-create')).toEqual([first?.jobId]);
    expect(await jobs.openJobs('t-create')).toEqual([first?.jobId]);
  });

  it('replaces a schedule of the same id (upsert): one schedule, its old next run gone from index and backlog', async () => {
    await schedules.upsert('t-replace', { id: 'daily', function: 'echo', cron: '0 9 * * *', timezone: 'UTC' });
    const before = await schedules.get('t-replace', 'daily');
    const { created, schedule } = await schedules.upsert('t-replace', {
      id: 'daily',
      function: 'echo',
      cron: '30 10 * * *',
      timezone: 'Europe/Paris',
    });
    expect(created).toBe(false);
    expect(schedule.spec.cron).toBe('30 10 * * *');
    expect(schedule.createdAt).toBe(before?.createdAt);
    expect(await schedules.list('t-replace')).toHaveLength(1);
    const open = await jobs.openJobs('t-replace');
    expect(open).toHaveLength(1);
    expect(open[0]).not.toBe(before?.lastRuns[0]?.jobId);
    expect(await indexed('t-replace')).toEqual(open);
  });

  it('computes cron due times in the schedule time zone', async () => {
    const { schedule } = await schedules.upsert('t-tz', {
      id: 'morning',
      function: 'echo',
      cron: '0 9 * * *',
      timezone: 'America/New_York',
    });
    const detail = await schedules.get('t-tz', 'morning');
    expect(detail?.nextRuns).toHaveLength(5);
    for (const time of detail?.nextRuns ?? []) {
      const hour = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hour12: false });
      expect(Number(hour.format(new Date(time)))).toBe(9);
    }
    expect(schedule.nextRunAt).toBe(detail?.nextRuns[0]);
  });

  it('keeps tenants apart: the same id is two schedules, and one tenant cannot pause or delete the other', async () => {
    await schedules.upsert('t-a', { id: 'same', function: 'echo', input: 'a', everyMs: 60_000 });
    await schedules.upsert('t-b', { id: 'same', function: 'echo', input: 'b', everyMs: 60_000 });
    expect((await schedules.list('t-a')).map((s) => s.spec.input)).toEqual(['a']);
    expect((await schedules.get('t-b', 'same'))?.spec.input).toBe('b');
    expect(await schedules.get('t-c', 'same')).toBeUndefined();
    expect(await schedules.pause('t-c', 'same')).toBeUndefined();
    expect(await schedules.remove('t-c', 'same')).toBe(false);
    await schedules.pause('t-a', 'same');
    expect((await schedules.get('t-b', 'same'))?.paused).toBe(false);
    expect(await schedules.remove('t-a', 'same')).toBe(true);
    expect(await schedules.get('t-b', 'same')).toBeDefined();
    expect(await jobs.openJobs('t-b')).toHaveLength(1);
  });

  it('pauses (the next run not started is removed) and resumes from now', async () => {
    await schedules.upsert('t-pause', { id: 'p', function: 'echo', everyMs: 60_000 });
    const paused = await schedules.pause('t-pause', 'p');
    expect(paused).toMatchObject({ paused: true, nextRunAt: undefined });
    expect(await jobs.openJobs('t-pause')).toEqual([]);
    expect(await indexed('t-pause')).toEqual([]);
    const resumedAt = Date.now();
    const resumed = await schedules.resume('t-pause', 'p');
    expect(resumed?.paused).toBe(false);
    expect(resumed?.nextRunAt).toBeGreaterThanOrEqual(resumedAt - 1000);
    expect(await jobs.openJobs('t-pause')).toHaveLength(1);
  });

  it("takes BullMQ's own removeJobScheduler on a store connection through the store: its delayed run leaves index and backlog", async () => {
    await schedules.upsert('t-foreign', { id: 'q', function: 'echo', cron: '0 0 1 1 *' });
    expect(await jobs.openJobs('t-foreign')).toHaveLength(1);
    expect(await jobs.queue.removeJobScheduler('t-foreign~q')).toBe(true);
    expect(await jobs.openJobs('t-foreign')).toEqual([]);
    expect(await indexed('t-foreign')).toEqual([]);
  });

  it('can be created paused, producing nothing', async () => {
    const { schedule } = await schedules.upsert('t-created-paused', {
      id: 'later',
      function: 'echo',
      everyMs: 5000,
      paused: true,
    });
    expect(schedule).toMatchObject({ paused: true, nextRunAt: undefined });
    expect(await jobs.openJobs('t-created-paused')).toEqual([]);
  });

  it('deletes the schedule and its run not started; runs that ended stay jobs of the tenant', async () => {
    await schedules.upsert('t-delete', { id: 'd', function: 'echo', everyMs: 1000 });
    worker();
    const ran = await until(
      () => jobs.list('t-delete', { limit: 10, state: 'completed' }),
      (page) => page.jobs.length >= 1,
    );
    expect(ran.jobs.length).toBeGreaterThanOrEqual(1);
    await Promise.all(workers.splice(0).map((w) => w.close()));
    expect(await schedules.remove('t-delete', 'd')).toBe(true);
    expect(await schedules.get('t-delete', 'd')).toBeUndefined();
    expect(await schedules.list('t-delete')).toEqual([]);
    expect(await jobs.openJobs('t-delete')).toEqual([]);
    expect(await jobs.getOf('t-delete', ran.jobs[0]?.id as string)).toMatchObject({
      state: 'completed',
      schedule: 'd',
    });
    expect(await redis.zscore(jobs.queue.keys.repeat as string, 't-delete~d')).toBeNull();
  });

  it('produces each next run, when a node takes a run, as a job of the tenant in the same step', async () => {
    await schedules.upsert('t-fire', { id: 'f', function: 'echo', input: 7, everyMs: 1000 });
    const seen: unknown[] = [];
    worker(async (job) => {
      seen.push(job.data.input);
      return job.data.input;
    });
    const page = await until(
      () => jobs.list('t-fire', { limit: 10, state: 'completed' }),
      (p) => p.jobs.length >= 2,
    );
    expect(page.jobs.length).toBeGreaterThanOrEqual(2);
    expect(page.jobs.every((job) => job.schedule === 'f' && job.result === 7)).toBe(true);
    const detail = await schedules.get('t-fire', 'f');
    expect(detail?.lastRuns.length).toBeGreaterThanOrEqual(3);
    // Every run ever produced is indexed; the ones not ended are exactly the open set.
    const index = await indexed('t-fire');
    for (const run of detail?.lastRuns ?? []) expect(index).toContain(run.jobId);
    await Promise.all(workers.splice(0).map((w) => w.close()));
    const open = await jobs.openJobs('t-fire');
    const notEnded = [];
    for (const id of index) {
      const view = await jobs.get(id);
      if (view && !['completed', 'failed', 'cancelled'].includes(view.state)) notEnded.push(id);
    }
    expect(open.sort()).toEqual(notEnded.sort());
    await schedules.remove('t-fire', 'f');
  });

  it('fires a daily cron at its time in its time zone, then schedules the next day (fake clock)', async () => {
    // Only Date is faked (timers stay real): BullMQ takes every "now" from Date.now() on this side,
    // so the store, the scripts and the worker all see 08:59:59 in New York, two seconds before 9:00.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(new Date('2026-06-01T12:59:58.000Z'));
      const { schedule } = await schedules.upsert('t-clock', {
        id: 'nine',
        function: 'echo',
        input: 'morning',
        cron: '0 9 * * *',
        timezone: 'America/New_York',
      });
      expect(schedule.nextRunAt).toBe(Date.parse('2026-06-01T13:00:00.000Z'));
      expect(await jobs.list('t-clock', { limit: 10, state: 'delayed' })).toMatchObject({
        jobs: [{ schedule: 'nine' }],
      });
      worker();
      const done = await until(
        () => jobs.list('t-clock', { limit: 10, state: 'completed' }),
        (page) => page.jobs.length === 1,
      );
      expect(done.jobs[0]).toMatchObject({ input: 'morning', result: 'ok', schedule: 'nine' });
      expect(done.jobs[0]?.startedAt).toBeGreaterThanOrEqual(Date.parse('2026-06-01T13:00:00.000Z'));
      const detail = await schedules.get('t-clock', 'nine');
      expect(detail?.nextRunAt).toBe(Date.parse('2026-06-02T13:00:00.000Z'));
      expect(detail?.lastRuns[0]?.dueAt).toBe(Date.parse('2026-06-02T13:00:00.000Z'));
      expect(await jobs.openJobs('t-clock')).toEqual([detail?.lastRuns[0]?.jobId]);
    } finally {
      vi.useRealTimers();
      await schedules.remove('t-clock', 'nine');
    }
  });

  it('skips a run produced while the backlog is at its cap: it is recorded and ends cancelled instead of running', async () => {
    const capped = scheduleStore({ backlogCap: 1 });
    await capped.upsert('t-full', { id: 'busy', function: 'echo', everyMs: 1000 });
    const ranFor: string[] = [];
    // The first run holds the one slot while it runs: the run it produces is skipped.
    worker(async (job) => {
      ranFor.push(job.id as string);
      if (job.data.cancelled) throw new Error('a skipped run ran');
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 'ok';
    });
    const detail = await until(
      () => capped.get('t-full', 'busy'),
      (d) => (d?.lastRuns ?? []).some((run) => run.skipped),
    );
    const skipped = detail?.lastRuns.find((run) => run.skipped);
    expect(skipped).toBeDefined();
    const raw = await redis.hget(`${keys.queue}${skipped?.jobId}`, 'data');
    expect(JSON.parse(raw ?? '{}')).toMatchObject({ cancelled: true });
    expect(await indexed('t-full')).toContain(skipped?.jobId);
    await capped.remove('t-full', 'busy');
  });

  describe('refuses, naming the field and how to fix it', () => {
    const refusal = async (spec: object, store = schedules): Promise<JobSpecError> => {
      const error = await store.upsert('t-bad', spec as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobSpecError);
      return error as JobSpecError;
    };

    it('a bad cron expression, with the parser message', async () => {
      const error = await refusal({ id: 'x', function: 'echo', cron: '61 * * * *' });
      expect(error.field).toBe('cron');
      expect(error.message).toMatch(/not a valid cron expression: .+/);
    });

    it('an unknown time zone', async () => {
      const error = await refusal({ id: 'x', function: 'echo', cron: '0 * * * *', timezone: 'Mars/Olympus' });
      expect(error.field).toBe('timezone');
      expect(error.message).toContain('IANA');
    });

    it('both or neither of cron and everyMs', async () => {
      expect((await refusal({ id: 'x', function: 'echo' })).message).toMatch(/exactly one of "cron"/);
      expect((await refusal({ id: 'x', function: 'echo', cron: '* * * * *', everyMs: 5000 })).field).toBe('everyMs');
    });

    it('an interval below the floor, by everyMs or by cron', async () => {
      const floored = scheduleStore({ minIntervalMs: 60_000 });
      expect((await refusal({ id: 'x', function: 'echo', everyMs: 999 })).message).toContain('at least 1000 ms');
      const cron = await refusal({ id: 'x', function: 'echo', cron: '*/5 * * * * *' }, floored);
      expect(cron.field).toBe('cron');
      expect(cron.message).toContain('60000 ms');
    });

    it('an unknown function, or an id that cannot name a schedule', async () => {
      expect((await refusal({ id: 'x', function: 'nope', everyMs: 5000 })).field).toBe('function');
      expect((await refusal({ id: 'a~b', function: 'echo', everyMs: 5000 })).field).toBe('id');
    });

    it('a schedule beyond the per-tenant cap (a replace is not one)', async () => {
      const two = scheduleStore({ maxSchedules: 2 });
      await two.upsert('t-cap', { id: 'one', function: 'echo', everyMs: 60_000, paused: true });
      await two.upsert('t-cap', { id: 'two', function: 'echo', everyMs: 60_000, paused: true });
      await expect(two.upsert('t-cap', { id: 'three', function: 'echo', everyMs: 60_000 })).rejects.toBeInstanceOf(
        ScheduleCapError,
      );
      await expect(two.upsert('t-cap', { id: 'two', function: 'echo', everyMs: 30_000 })).resolves.toMatchObject({
        created: false,
      });
    });
  });
});
