import { describe, expect, it } from 'vitest';
import { type Json, usePlatform } from './helpers.js';

const { p } = usePlatform({ TENANT_BACKLOG_CAP: '1' });

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
});
