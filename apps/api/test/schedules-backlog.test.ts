import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type Json, usePlatform } from './helpers.js';

// One job of a tenant fills its backlog; one running fills its slots on the node.
const { p } = usePlatform({ TENANT_BACKLOG_CAP: '1' }, { TENANT_MAX_RUNNING_PER_NODE: '1' });

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a schedule whose tenant backlog is full', () => {
  it('skips its runs, recorded as skipped and ended as cancelled, and runs again once there is room', async () => {
    const filler = await p.call('POST', '/v1/jobs', { body: { function: 'echo', delayMs: 600_000 } });
    expect(filler.status).toBe(202);
    expect((await p.call('POST', '/v1/jobs', { body: { function: 'echo' } })).status).toBe(429);

    await p.call('POST', '/v1/schedules', { body: { id: 'crowded', function: 'echo', input: 'x', everyMs: 1000 } });
    const skipped = await eventually(
      () => p.call('GET', '/v1/schedules/crowded'),
      ({ body }) => body.lastRuns.some((run: Json) => run.skipped && run.state === 'cancelled'),
    );
    const run = skipped.body.lastRuns.find((r: Json) => r.skipped && r.state === 'cancelled');
    expect(run).toBeDefined();
    expect((await p.call('GET', `/v1/jobs/${run.jobId}`)).body).toMatchObject({
      state: 'cancelled',
      schedule: 'crowded',
      exit: { reason: 'cancelled' },
    });

    expect((await p.call('DELETE', `/v1/jobs/${filler.body.id}`)).status).toBe(202);
    const ran = await eventually(
      () => p.call('GET', '/v1/schedules/crowded'),
      ({ body }) => body.lastRuns.some((r: Json) => !r.skipped && r.state === 'completed'),
    );
    expect(ran.body.lastRuns.some((r: Json) => !r.skipped && r.state === 'completed')).toBe(true);
    await p.call('DELETE', '/v1/schedules/crowded');
    const backlog = await eventually(
      () => p.call('POST', '/v1/jobs', { body: { function: 'echo' } }),
      ({ status }) => status === 202,
    );
    expect(backlog.status).toBe(202);
  }, 60_000);

  it('ends its skipped runs while the tenant has its most jobs running on the node: they never wait for a slot, and the backlog does not grow with them', async () => {
    // The test before leaves a job that is ending: the backlog has room once it has ended.
    const filler = await eventually(
      () => p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 8000 }, attempts: 1 } }),
      ({ status }) => status === 202,
    );
    expect(filler.status).toBe(202);
    await eventually(
      () => p.call('GET', `/v1/jobs/${filler.body.id}`),
      ({ body }) => body.state === 'running',
    );
    const created = await p.call('POST', '/v1/schedules', {
      body: { id: 'throttled', function: 'echo', input: 'x', everyMs: 1000 },
    });
    expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
    const skippedEnded = (body: Json) =>
      (body.lastRuns ?? []).filter((run: Json) => run.skipped && run.state === 'cancelled').length;
    const seen = await eventually(
      () => p.call('GET', '/v1/schedules/throttled'),
      ({ body }) => skippedEnded(body) >= 3,
      8000,
    );
    // Before the fix each skipped run was put back for a free slot, stayed open, and the backlog grew past 1.
    expect(skippedEnded(seen.body), JSON.stringify(seen.body.lastRuns)).toBeGreaterThanOrEqual(3);
    const redis = new Redis(p.redisUrl);
    try {
      // Open: the filler and the schedule's next run, admitted (as skipped) when it was made; the
      // runs skipped before it have ended, so the backlog does not grow with them.
      const open = await redis.smembers('{beamline}:jobs:bl:open:acme');
      expect(open).toContain(filler.body.id);
      expect(open.length, JSON.stringify(open)).toBeLessThanOrEqual(2);
    } finally {
      redis.disconnect();
    }
    expect((await p.call('GET', `/v1/jobs/${filler.body.id}`)).body.state).toBe('running');
    await p.call('DELETE', '/v1/schedules/throttled');
    await p.call('DELETE', `/v1/jobs/${filler.body.id}`);
  }, 30_000);
});
