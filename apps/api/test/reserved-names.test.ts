import { describe, expect, it } from 'vitest';
import { ended, usePlatform } from './helpers.js';

const { p } = usePlatform();

describe('names of built-in functions', () => {
  it('cannot be taken: deploying one is a 409 problem saying the name is reserved, and the built-in still runs', async () => {
    const asSource = await p.call('PUT', '/v1/functions/echo', {
      raw: 'export default async () => "mine";',
      headers: { 'content-type': 'application/javascript' },
    });
    expect(asSource.status).toBe(409);
    expect(asSource.headers.get('content-type')).toBe('application/problem+json');
    expect(asSource.body).toMatchObject({
      title: 'Name reserved',
      status: 409,
      detail: expect.stringContaining('"echo" is reserved'),
      instance: '/v1/functions/echo',
      errors: [{ path: 'name', message: expect.stringContaining('reserved') }],
    });
    const asJson = await p.call('PUT', '/v1/functions/sleep', { body: { code: 'export default async () => 0;' } });
    expect(asJson.status).toBe(409);

    const echo = await p.call('GET', '/v1/functions/echo');
    expect(echo.body.versions.every((version: { builtin: boolean }) => version.builtin)).toBe(true);
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 'still the built-in' } });
    expect((await ended(p, job.body.id)).result).toBe('still the built-in');
    // A name no built-in has is free.
    expect(
      (await p.call('PUT', '/v1/functions/echo-twice', { body: { code: 'export default async (x) => [x, x];' } }))
        .status,
    ).toBe(201);
  });
});
