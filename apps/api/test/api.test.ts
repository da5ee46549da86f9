import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ended, KEYS, running, usePlatform } from './helpers.js';

const { p } = usePlatform({ TENANT_BACKLOG_CAP: '1000', MAX_BODY_BYTES: '65536' });

describe('auth', () => {
  it('refuses a missing or unknown key with 401 and a problem, and cluster endpoints without the admin key', async () => {
    const missing = await fetch(`${p.api.url}/v1/jobs/1`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${p.api.url}/v1/jobs/1`, { headers: { authorization: 'Bearer not-a-key-at-all-000' } });
    expect(wrong.status).toBe(401);
    expect((await p.call('GET', '/v1/nodes')).status).toBe(403);
    const nodes = await p.call('GET', '/v1/nodes', { as: 'admin' });
    expect(nodes.status).toBe(200);
    expect(nodes.body.nodes[0]).toMatchObject({ node: p.worker.nodeId, stats: { cores: expect.any(Number) } });
    const queues = await p.call('GET', '/v1/queues', { as: 'admin' });
    expect(queues.body.queues[0].counts).toHaveProperty('prioritized');
  });
});

describe('functions', () => {
  it('deploys versions (source or JSON with defaults), lists, gets and deletes them', async () => {
    const first = await p.call('PUT', '/v1/functions/greet', {
      raw: "export default async (name) => 'hello ' + name;",
      headers: { 'content-type': 'application/javascript' },
    });
    expect(first).toMatchObject({
      status: 201,
      body: { name: 'greet', version: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const same = await p.call('PUT', '/v1/functions/greet', {
      raw: "export default async (name) => 'hello ' + name;",
      headers: { 'content-type': 'application/javascript' },
    });
    expect(same).toMatchObject({ status: 200, body: { version: 1 } });
    const second = await p.call('PUT', '/v1/functions/greet', {
      body: { code: "export default async (name) => 'hi ' + name;", defaults: { timeoutMs: 5000 } },
    });
    expect(second).toMatchObject({ status: 201, body: { version: 2, defaults: { timeoutMs: 5000 } } });
    const got = await p.call('GET', '/v1/functions/greet');
    expect(got.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const list = await p.call('GET', '/v1/functions');
    expect(list.body.functions.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['greet', 'echo', 'loop']),
    );
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'greet@1', input: 'ada' } });
    expect((await ended(p, job.body.id)).result).toBe('hello ada');
    expect((await p.call('GET', '/v1/functions/greet', { as: 'globex' })).status).toBe(404);
    expect((await p.call('DELETE', '/v1/functions/greet', { as: 'globex' })).status).toBe(404);
    expect((await p.call('DELETE', '/v1/functions/greet')).status).toBe(204);
    expect((await p.call('GET', '/v1/functions/greet')).status).toBe(404);
  });

  it('refuses bad deployments with the failing field', async () => {
    const badName = await p.call('PUT', '/v1/functions/9lives', { body: { code: 'export default async () => 1;' } });
    expect(badName).toMatchObject({ status: 400, body: { errors: [{ path: 'name' }] } });
    const badDefaults = await p.call('PUT', '/v1/functions/ok', {
      body: { code: 'export default async () => 1;', defaults: { timeoutMs: -1, memoryMb: 10 ** 9 } },
    });
    expect(badDefaults.status).toBe(400);
    expect(badDefaults.body.errors.map((e: { path: string }) => e.path)).toEqual([
      'defaults.timeoutMs',
      'defaults.memoryMb',
    ]);
    const unknown = await p.call('PUT', '/v1/functions/ok', { body: { code: 'x', colour: 'red' } });
    expect(unknown.body.errors).toEqual([{ path: 'colour', message: 'unknown field; remove it' }]);
    const wrongType = await p.call('PUT', '/v1/functions/ok', {
      raw: 'code',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.status).toBe(415);
    const huge = await p.call('PUT', '/v1/functions/ok', {
      raw: `export default async () => 1;//${'x'.repeat(6 * 1024 * 1024)}`,
      headers: { 'content-type': 'application/javascript' },
    });
    expect(huge.status).toBe(413);
  });
});

describe('jobs', () => {
  it('submits a job and returns its result; a batch completes', async () => {
    const submitted = await p.call('POST', '/v1/jobs', {
      body: { function: 'echo', input: { n: 1 }, priority: 'high' },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get('location')).toBe(`/v1/jobs/${submitted.body.id}`);
    expect(submitted.body).toMatchObject({ function: 'echo', priority: 'high', attempts: { made: 0, max: 3 } });
    const done = await ended(p, submitted.body.id);
    expect(done).toMatchObject({ state: 'completed', result: { n: 1 }, version: 1 });
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(done.submittedAt));

    const batch = await p.call('POST', '/v1/jobs/batch', {
      body: { jobs: Array.from({ length: 10 }, (_, i) => ({ function: 'echo', input: i })) },
    });
    expect(batch.status).toBe(202);
    const results = await Promise.all(batch.body.jobs.map((j: { id: string }) => ended(p, j.id)));
    expect(results.map((r) => r.result)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('refuses bad submissions with problem+json naming each field', async () => {
    const cases: Array<[unknown, number, string[]]> = [
      [{ function: 'echo', priority: 'urgent' }, 400, ['priority']],
      [{ function: 'echo', timeoutMs: -5, cpuMs: 1e12, memoryMb: 2 }, 400, ['timeoutMs', 'cpuMs', 'memoryMb']],
      [{ function: 'echo', attempts: 'three' }, 400, ['attempts']],
      [{ function: 'echo', backoff: { type: 'linear', delayMs: 10 } }, 400, ['backoff.type']],
      [{ function: 'echo', colour: 'red' }, 400, ['colour']],
      [{ input: 1 }, 400, ['function']],
      [{ function: 'no-such-function' }, 404, ['function']],
      [[1, 2], 400, ['(body)']],
    ];
    for (const [body, status, paths] of cases) {
      const response = await p.call('POST', '/v1/jobs', { body });
      expect(response.status, JSON.stringify(body)).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.body.errors.map((e: { path: string }) => e.path)).toEqual(paths);
    }
    const malformed = await p.call('POST', '/v1/jobs', {
      raw: '{"function": "echo",',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed).toMatchObject({ status: 400, body: { title: 'Malformed JSON' } });
    const notJson = await p.call('POST', '/v1/jobs', {
      raw: 'function=echo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(notJson.status).toBe(415);
    const oversized = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 'x'.repeat(70_000) } });
    expect(oversized.status).toBe(413);
    const bigBatch = await p.call('POST', '/v1/jobs/batch', {
      body: { jobs: Array.from({ length: 501 }, () => ({ function: 'echo' })) },
    });
    expect(bigBatch).toMatchObject({ status: 400, body: { errors: [{ path: 'jobs' }] } });
    const badInBatch = await p.call('POST', '/v1/jobs/batch', {
      body: { jobs: [{ function: 'echo' }, { function: 'echo', priority: 9 }] },
    });
    expect(badInBatch.body.errors[0].path).toBe('jobs.1.priority');
    const listedBefore = (await p.call('GET', '/v1/jobs?limit=100')).body.jobs.length;
    const missingInBatch = await p.call('POST', '/v1/jobs/batch', {
      body: { jobs: [{ function: 'echo' }, { function: 'nope' }] },
    });
    expect(missingInBatch).toMatchObject({ status: 404, body: { errors: [{ path: 'jobs.1.function' }] } });
    expect(missingInBatch.body.detail).toContain('No job of the batch was accepted');
    expect((await p.call('GET', '/v1/jobs?limit=100')).body.jobs.length).toBe(listedBefore);
    expect((await p.call('GET', '/v1/jobs?limit=1000')).body.errors[0].path).toBe('query.limit');
  });

  it('honours an Idempotency-Key: same body → the original job, different body → 409', async () => {
    const body = { function: 'echo', input: 'once' };
    const first = await p.call('POST', '/v1/jobs', { body, headers: { 'idempotency-key': 'order-42' } });
    const again = await p.call('POST', '/v1/jobs', { body, headers: { 'idempotency-key': 'order-42' } });
    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id } });
    const conflict = await p.call('POST', '/v1/jobs', {
      body: { ...body, input: 'twice' },
      headers: { 'idempotency-key': 'order-42' },
    });
    expect(conflict.status).toBe(409);
    const otherTenant = await p.call('POST', '/v1/jobs', {
      body,
      headers: { 'idempotency-key': 'order-42' },
      as: 'globex',
    });
    expect(otherTenant.body.id).not.toBe(first.body.id);
  });

  it("keeps tenants apart: another tenant's job is 404 everywhere", async () => {
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 'private' } });
    await ended(p, job.body.id);
    for (const [method, path] of [
      ['GET', `/v1/jobs/${job.body.id}`],
      ['DELETE', `/v1/jobs/${job.body.id}`],
      ['POST', `/v1/jobs/${job.body.id}/retry`],
      ['GET', `/v1/jobs/${job.body.id}/wait?timeoutMs=0`],
    ] as const) {
      expect((await p.call(method, path, { as: 'globex' })).status, `${method} ${path}`).toBe(404);
    }
    const listed = await p.call('GET', '/v1/jobs?limit=100', { as: 'globex' });
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).not.toContain(job.body.id);
  });

  it('lists jobs newest first with state and function filters and a cursor', async () => {
    for (let i = 0; i < 5; i++)
      await ended(p, (await p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 1 } } })).body.id);
    const firstPage = await p.call('GET', '/v1/jobs?function=sleep&state=completed&limit=3');
    expect(firstPage.body.jobs).toHaveLength(3);
    expect(
      firstPage.body.jobs.every(
        (j: { function: string; state: string }) => j.function === 'sleep' && j.state === 'completed',
      ),
    ).toBe(true);
    const secondPage = await p.call(
      'GET',
      `/v1/jobs?function=sleep&state=completed&limit=3&cursor=${firstPage.body.nextCursor}`,
    );
    expect(secondPage.body.jobs).toHaveLength(2);
    const ids = [...firstPage.body.jobs, ...secondPage.body.jobs].map((j: { id: string }) => j.id);
    expect(new Set(ids).size).toBe(5);
    expect(Number(ids[0])).toBeGreaterThan(Number(ids[4]));
  });

  it('a failing job ends in the dead letters and is requeued; a long poll times out with 408', async () => {
    const deploy = await p.call('PUT', '/v1/functions/fails-until', {
      raw: "export default async ({ until }) => { if (Date.now() < until) throw new Error('too early'); return 'on time'; };",
      headers: { 'content-type': 'application/javascript' },
    });
    expect(deploy.status).toBe(201);
    const until = Date.now() + 1000;
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'fails-until', input: { until }, attempts: 1 } });
    const failed = await ended(p, job.body.id);
    expect(failed).toMatchObject({ state: 'failed', exit: { reason: 'error', message: 'Error: too early' } });
    expect(failed.exit.stack).toContain('too early');
    const letters = await p.call('GET', '/v1/dead-letters');
    expect(letters.body.deadLetters.map((d: { id: string }) => d.id)).toContain(job.body.id);
    expect((await p.call('GET', '/v1/dead-letters', { as: 'globex' })).body.deadLetters).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
    expect((await p.call('POST', `/v1/dead-letters/${job.body.id}/requeue`)).status).toBe(202);
    expect(await ended(p, job.body.id)).toMatchObject({ state: 'completed', result: 'on time' });
    expect((await p.call('POST', `/v1/jobs/${job.body.id}/retry`)).status).toBe(409);

    const slow = await p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 2000 } } });
    const waited = await p.call('GET', `/v1/jobs/${slow.body.id}/wait?timeoutMs=100`);
    expect(waited.status).toBe(408);
    expect(['waiting', 'running']).toContain(waited.body.state);
  });

  it('cancels: a delayed job is removed, a running infinite loop is killed and the job cancelled', async () => {
    const delayed = await p.call('POST', '/v1/jobs', { body: { function: 'echo', delayMs: 60_000 } });
    expect(delayed.body.state).toBe('delayed');
    const removed = await p.call('DELETE', `/v1/jobs/${delayed.body.id}`);
    expect(removed).toMatchObject({ status: 202, body: { outcome: 'removed', job: null } });
    expect((await p.call('GET', `/v1/jobs/${delayed.body.id}`)).status).toBe(404);

    const loop = await p.call('POST', '/v1/jobs', { body: { function: 'loop' } });
    const { pid } = await running(p, loop.body.id);
    expect(p.worker.node.isAlive(pid)).toBe(true);
    const cancelled = await p.call('DELETE', `/v1/jobs/${loop.body.id}`);
    expect(cancelled.body.outcome).toBe('cancelling');
    expect(await ended(p, loop.body.id)).toMatchObject({
      state: 'cancelled',
      exit: { reason: 'cancelled' },
      attempts: { made: 1 },
    });
    expect(p.worker.node.isAlive(pid)).toBe(false);
  });

  it('answers 429 with Retry-After when a tenant backlog passes its cap', async () => {
    const delayed = { jobs: Array.from({ length: 500 }, () => ({ function: 'echo', delayMs: 60_000 })) };
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof p.call>> | undefined;
    for (let i = 0; i < 4 && !refused; i++) {
      const response = await p.call('POST', '/v1/jobs/batch', { body: delayed });
      if (response.status === 202) accepted += 500;
      else refused = response;
    }
    expect(accepted).toBeGreaterThanOrEqual(500);
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBe('10');
    expect(refused?.body).toMatchObject({ cap: 1000, backlog: expect.any(Number) });
    expect((await p.call('POST', '/v1/jobs', { body: { function: 'echo' }, as: 'globex' })).status).toBe(202);
  });
});

describe('races and odd requests', () => {
  it('counts a job once in the backlog when the same idempotency key races, and concurrent retries get one 202 and 409s', async () => {
    const redis = new Redis(p.redisUrl);
    // The tenant's backlog: the set of its jobs not yet ended (its size).
    const backlog = () => redis.scard('{beamline}:jobs:bl:open:acme');
    const before = await backlog();
    const body = { function: 'echo', delayMs: 60_000 };
    const racing = await Promise.all(
      Array.from({ length: 10 }, () => p.call('POST', '/v1/jobs', { body, headers: { 'idempotency-key': 'race-1' } })),
    );
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    expect(await backlog()).toBe(before + 1);

    const failing = await p.call('POST', '/v1/jobs', { body: { function: 'fail', attempts: 1 } });
    await ended(p, failing.body.id);
    const afterFailure = await backlog();
    const retries = await Promise.all(
      Array.from({ length: 5 }, () => p.call('POST', `/v1/jobs/${failing.body.id}/retry`)),
    );
    expect(retries.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409]);
    await ended(p, failing.body.id);
    expect(await backlog()).toBe(afterFailure);
    redis.disconnect();
  });

  it('answers 404 for ids that name no job (even BullMQ key names), 400 for absurdly nested JSON, headers only for HEAD on a stream', async () => {
    for (const id of ['events', 'id', 'stalled-check', '..%2F1', 'meta']) {
      expect((await p.call('GET', `/v1/jobs/${id}`)).status, id).toBe(404);
      expect((await p.call('POST', `/v1/dead-letters/${id}/requeue`)).status, id).toBe(404);
    }
    const nested = `${'['.repeat(30_000)}1${']'.repeat(30_000)}`;
    const deep = await p.call('POST', '/v1/jobs', {
      raw: `{"function":"echo","input":${nested}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(deep).toMatchObject({
      status: 400,
      body: { detail: expect.stringContaining('nested deeper than 64 levels') },
    });
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'echo', delayMs: 60_000 } });
    const head = await fetch(`${p.api.url}/v1/jobs/${job.body.id}/events`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${KEYS.acme}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/event-stream');
  });
});

describe('service endpoints', () => {
  it('serves health, readiness, metrics, the OpenAPI document and the docs page', async () => {
    expect(await (await fetch(`${p.api.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${p.api.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${p.api.url}/metrics`)).text();
    expect(metrics).toMatch(/beamline_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/jobs"[^}]*status="202"/);
    expect(metrics).toMatch(/beamline_jobs_submitted_total \d+/);
    expect(metrics).not.toContain('tenant=');
    // biome-ignore lint/suspicious/noExplicitAny: the document is arbitrary JSON, inspected field by field
    const document = (await (await fetch(`${p.api.url}/openapi.json`)).json()) as any;
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.schemas.JobSubmission.properties.priority.enum).toEqual([
      'max',
      'high',
      'normal',
      'low',
    ]);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}/events', '/v1/functions/{name}']),
    );
    const docs = await fetch(`${p.api.url}/docs`);
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(await docs.text()).toContain('/openapi.json');
    const missing = await fetch(`${p.api.url}/v2/nothing`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(missing.status).toBe(404);
  });
});
