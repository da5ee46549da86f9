import { describe, expect, it } from 'vitest';
import { ended, usePlatform } from './helpers.js';

const { p } = usePlatform();

describe('GET /v1/jobs/{id}/logs', () => {
  it("reads an ended job's log in pages, for its own tenant only", async () => {
    const deployed = await p.call('PUT', '/v1/functions/chatty', {
      raw: 'export default async ({ lines }, ctx) => { for (let i = 0; i < lines; i++) ctx.log("line " + i); return lines; };',
      headers: { 'content-type': 'application/javascript' },
    });
    expect(deployed.status).toBe(201);
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'chatty', input: { lines: 7 } } });
    expect(await ended(p, job.body.id)).toMatchObject({ state: 'completed', result: 7 });

    const read = (query: string, as: 'acme' | 'globex' = 'acme') =>
      p.call('GET', `/v1/jobs/${job.body.id}/logs${query}`, { as });
    const lines = Array.from({ length: 7 }, (_, i) => `[info] line ${i}`);
    expect(await read('')).toMatchObject({ status: 200, body: { logs: lines, total: 7, offset: 0 } });
    const pages = [];
    for (let offset = 0; offset < 7; offset += 3) pages.push((await read(`?offset=${offset}&limit=3`)).body);
    expect(pages).toEqual([
      { logs: lines.slice(0, 3), total: 7, offset: 0 },
      { logs: lines.slice(3, 6), total: 7, offset: 3 },
      { logs: lines.slice(6), total: 7, offset: 6 },
    ]);
    expect((await read('?offset=50')).body).toEqual({ logs: [], total: 7, offset: 50 });

    expect(await read('?limit=1001')).toMatchObject({ status: 400, body: { errors: [{ path: 'query.limit' }] } });
    expect(await read('?offset=-1')).toMatchObject({ status: 400, body: { errors: [{ path: 'query.offset' }] } });
    expect(await read('?colour=red')).toMatchObject({ status: 400, body: { errors: [{ path: 'query.colour' }] } });
    const foreign = await read('', 'globex');
    expect(foreign).toMatchObject({ status: 404, body: { title: 'Not found' } });
    expect(foreign.headers.get('content-type')).toBe('application/problem+json');
    expect((await p.call('GET', '/v1/jobs/987654321/logs')).status).toBe(404);
    expect((await p.call('GET', '/v1/jobs/not-a-job/logs')).status).toBe(404);
  });
});
