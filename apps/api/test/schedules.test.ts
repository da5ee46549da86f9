import { describe, expect, it } from 'vitest';
import { type Json, type Platform, usePlatform } from './helpers.js';

const { p } = usePlatform({ SCHEDULES_PER_TENANT: '3', SCHEDULE_MIN_INTERVAL_MS: '1000' });

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const runsOf = async (platform: Platform, id: string): Promise<Json[]> => {
  const { body } = await platform.call('GET', '/v1/jobs?limit=100');
  return body.jobs.filter((job: Json) => job.schedule === id);
};

describe('schedules over REST', () => {
  it('creates (201), replaces (200), lists and gets a schedule with its next run times', async () => {
    const definition = { id: 'report', function: 'echo', input: { r: 1 }, cron: '0 3 * * *', timezone: 'Europe/Paris' };
    const created = await p.call('POST', '/v1/schedules', { body: definition });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/schedules/report');
    expect(created.body).toMatchObject({ ...definition, paused: false, nextRunAt: expect.any(String) });
    expect(created.body.nextRuns).toHaveLength(5);
    const replaced = await p.call('POST', '/v1/schedules', { body: { ...definition, cron: '0 4 * * *' } });
    expect(replaced).toMatchObject({ status: 200, body: { cron: '0 4 * * *' } });
    const list = await p.call('GET', '/v1/schedules');
    expect(list.body.schedules.map((s: Json) => s.id)).toEqual(['report']);
    const got = await p.call('GET', '/v1/schedules/report');
    expect(got.body.lastRuns[0]).toMatchObject({ state: 'delayed', skipped: false });
    const run = await p.call('GET', `/v1/jobs/${got.body.lastRuns[0].jobId}`);
    expect(run.body).toMatchObject({ state: 'delayed', schedule: 'report', input: { r: 1 } });
    expect((await p.call('DELETE', '/v1/schedules/report')).status).toBe(204);
    expect((await p.call('GET', '/v1/schedules/report')).status).toBe(404);
    expect((await p.call('GET', `/v1/jobs/${got.body.lastRuns[0].jobId}`)).status).toBe(404);
  });

  it('keeps tenants apart, even with the same id', async () => {
    await p.call('POST', '/v1/schedules', { body: { id: 'mine', function: 'echo', cron: '0 0 * * *' } });
    expect((await p.call('GET', '/v1/schedules/mine', { as: 'globex' })).status).toBe(404);
    expect((await p.call('POST', '/v1/schedules/mine/pause', { as: 'globex' })).status).toBe(404);
    expect((await p.call('DELETE', '/v1/schedules/mine', { as: 'globex' })).status).toBe(404);
    expect((await p.call('GET', '/v1/schedules', { as: 'globex' })).body.schedules).toEqual([]);
    const theirs = await p.call('POST', '/v1/schedules', {
      as: 'globex',
      body: { id: 'mine', function: 'echo', cron: '0 1 * * *' },
    });
    expect(theirs.status).toBe(201);
    expect((await p.call('GET', '/v1/schedules/mine')).body.cron).toBe('0 0 * * *');
    await p.call('DELETE', '/v1/schedules/mine', { as: 'globex' });
    expect((await p.call('GET', '/v1/schedules/mine')).status).toBe(200);
    await p.call('DELETE', '/v1/schedules/mine');
  });

  it('refuses bad definitions with a problem naming the field', async () => {
    const bad = async (body: object) => p.call('POST', '/v1/schedules', { body });
    const cron = await bad({ id: 'x', function: 'echo', cron: '99 * * * *' });
    expect(cron.status).toBe(400);
    expect(cron.headers.get('content-type')).toBe('application/problem+json');
    expect(cron.body.errors[0]).toMatchObject({ path: 'cron', message: expect.stringContaining('not a valid cron') });
    expect(
      (await bad({ id: 'x', function: 'echo', cron: '0 * * * *', timezone: 'Nowhere/City' })).body.errors[0].path,
    ).toBe('timezone');
    expect((await bad({ id: 'x', function: 'echo' })).status).toBe(400);
    expect((await bad({ id: 'x', function: 'echo', cron: '0 * * * *', everyMs: 5000 })).status).toBe(400);
    expect((await bad({ id: 'x', function: 'echo', everyMs: 10 })).body.detail).toContain('at least 1000 ms');
    expect((await bad({ id: 'x', function: 'nope', everyMs: 5000 })).status).toBe(404);
    expect((await bad({ id: 'no/slash', function: 'echo', everyMs: 5000 })).body.errors[0].path).toBe('id');
    expect((await bad({ id: 'x', function: 'echo', everyMs: 5000, color: 'red' })).body.errors[0].path).toBe('color');
    for (const id of ['c1', 'c2', 'c3']) {
      expect((await bad({ id, function: 'echo', cron: '0 0 1 1 *', paused: true })).status).toBe(201);
    }
    const cap = await bad({ id: 'c4', function: 'echo', cron: '0 0 1 1 *' });
    expect(cap).toMatchObject({ status: 409, body: { title: 'Too many schedules' } });
    for (const id of ['c1', 'c2', 'c3']) await p.call('DELETE', `/v1/schedules/${id}`);
  });

  it('fires every second on a worker node; pause stops the runs, resume restarts them', async () => {
    const created = await p.call('POST', '/v1/schedules', {
      body: { id: 'heartbeat', function: 'echo', input: 'beat', everyMs: 1000 },
    });
    expect(created.status).toBe(201);
    const completed = await eventually(
      () => runsOf(p, 'heartbeat'),
      (runs) => runs.filter((run) => run.state === 'completed').length >= 2,
    );
    expect(completed.filter((run) => run.state === 'completed').length).toBeGreaterThanOrEqual(2);
    expect(completed.find((run) => run.state === 'completed')).toMatchObject({ result: 'beat', function: 'echo' });

    const paused = await p.call('POST', '/v1/schedules/heartbeat/pause');
    expect(paused.body).toMatchObject({ paused: true, nextRunAt: null, nextRuns: [] });
    // A run that had started goes on to its end; after that, nothing new appears.
    const settled = await eventually(
      () => runsOf(p, 'heartbeat'),
      (runs) => runs.every((run) => run.state === 'completed'),
    );
    const atPause = settled.map((run) => run.id);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const later = await runsOf(p, 'heartbeat');
    expect(later.map((run) => run.id)).toEqual(atPause);
    expect(later.every((run) => run.state === 'completed')).toBe(true);

    const resumed = await p.call('POST', '/v1/schedules/heartbeat/resume');
    expect(resumed.body).toMatchObject({ paused: false, nextRunAt: expect.any(String) });
    const after = await eventually(
      () => runsOf(p, 'heartbeat'),
      (runs) => runs.filter((run) => run.state === 'completed' && !atPause.includes(run.id)).length >= 2,
    );
    expect(after.filter((run) => run.state === 'completed' && !atPause.includes(run.id)).length).toBeGreaterThanOrEqual(
      2,
    );
    const detail = await p.call('GET', '/v1/schedules/heartbeat');
    expect(detail.body.lastRuns.some((run: Json) => run.state === 'completed')).toBe(true);
    expect((await p.call('DELETE', '/v1/schedules/heartbeat')).status).toBe(204);
  }, 90_000);
});
