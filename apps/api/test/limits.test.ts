import { describe, expect, it } from 'vitest';
import { ended, usePlatform } from './helpers.js';

const { p } = usePlatform();

const SOURCE = 'export default async (input) => input;';

describe('limits per key and pausing a function over REST (ADR 0016)', () => {
  it('a function is paused and resumed per tenant: GET shows it, its jobs wait, another tenant is not paused', async () => {
    for (const as of ['acme', 'globex'] as const) {
      const deployed = await p.call('PUT', '/v1/functions/pausable', { body: { code: SOURCE }, as });
      expect(deployed.status).toBe(201);
    }
    const paused = await p.call('POST', '/v1/functions/pausable/pause');
    expect(paused).toMatchObject({ status: 200, body: { name: 'pausable', paused: true } });
    expect((await p.call('GET', '/v1/functions/pausable')).body.paused).toBe(true);
    expect((await p.call('GET', '/v1/functions/pausable', { as: 'globex' })).body.paused).toBe(false);
    // The nodes see the pause within about a second.
    await new Promise((resolve) => setTimeout(resolve, 1200));

    const waiting = await p.call('POST', '/v1/jobs', { body: { function: 'pausable', input: 'later' } });
    expect(waiting.status).toBe(202);
    const theirs = await p.call('POST', '/v1/jobs', { body: { function: 'pausable', input: 'now' }, as: 'globex' });
    expect((await ended(p, theirs.body.id, 'globex')).result).toBe('now');
    const still = await p.call('GET', `/v1/jobs/${waiting.body.id}`);
    expect(['waiting', 'delayed']).toContain(still.body.state);

    expect(await p.call('POST', '/v1/functions/pausable/resume')).toMatchObject({
      status: 200,
      body: { name: 'pausable', paused: false },
    });
    expect((await ended(p, waiting.body.id)).result).toBe('later');
  }, 30_000);

  it('a built-in cannot be paused (409), an unknown function is 404', async () => {
    const builtin = await p.call('POST', '/v1/functions/echo/pause');
    expect(builtin.status).toBe(409);
    expect(builtin.body.detail).toContain('built-in');
    expect((await p.call('POST', '/v1/functions/no-such-fn/resume')).status).toBe(404);
  });

  it('validates limits: defaults and a submission with clear errors', async () => {
    const badDefaults = await p.call('PUT', '/v1/functions/limited', {
      body: { code: SOURCE, defaults: { concurrency: 0, ratePerSecond: -1 } },
    });
    expect(badDefaults.status).toBe(400);
    expect(badDefaults.body.errors.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining([expect.stringContaining('concurrency'), expect.stringContaining('ratePerSecond')]),
    );
    const deployed = await p.call('PUT', '/v1/functions/limited', {
      body: { code: SOURCE, defaults: { concurrency: 2, ratePerSecond: 50 } },
    });
    expect(deployed.status).toBe(201);
    expect(deployed.body.defaults).toMatchObject({ concurrency: 2, ratePerSecond: 50 });

    const noLimit = await p.call('POST', '/v1/jobs', { body: { function: 'limited', concurrencyKey: 'k' } });
    expect(noLimit.status).toBe(400);
    expect(noLimit.body.errors[0].path).toBe('concurrencyLimit');
    const tooLong = await p.call('POST', '/v1/jobs', {
      body: { function: 'limited', concurrencyKey: 'x'.repeat(129), concurrencyLimit: 1 },
    });
    expect(tooLong.status).toBe(400);
    const keyed = await p.call('POST', '/v1/jobs', {
      body: { function: 'limited', input: 'keyed', concurrencyKey: 'customer-1', concurrencyLimit: 1 },
    });
    expect(keyed.status).toBe(202);
    expect((await ended(p, keyed.body.id)).result).toBe('keyed');
  }, 30_000);
});
