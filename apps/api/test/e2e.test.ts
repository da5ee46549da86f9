import { describe, expect, it } from 'vitest';
import { ended, KEYS, running, usePlatform } from './helpers.js';

const { p, redis } = usePlatform();

/** Reads a server-sent event stream until its `end` event, returning every event. */
async function readEvents(url: string): Promise<Array<{ event: string; data: unknown }>> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${KEYS.acme}` } });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: Array<{ event: string; data: unknown }> = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    buffer += decoder.decode(value, { stream: true });
    let boundary = buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      events.push({ event, data: data === undefined ? undefined : JSON.parse(data) });
      if (event === 'end') {
        await reader.cancel();
        return events;
      }
      boundary = buffer.indexOf('\n\n');
    }
  }
}

describe('following and reaching running jobs', () => {
  it('streams progress, logs and state changes as server-sent events, ending with the final state', async () => {
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'cpu', input: { ms: 600 } } });
    const events = await readEvents(`${p.api.url}/v1/jobs/${job.body.id}/events`);
    const kinds = events.map((e) => e.event);
    expect(kinds[0]).toBe('state');
    expect(kinds).toContain('progress');
    expect(kinds.at(-1)).toBe('end');
    expect(events.at(-1)?.data).toMatchObject({ state: 'completed', result: { iterations: expect.any(Number) } });
    const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as { progress: number }).progress);
    expect(progress.at(-1)).toBe(100);
    const states = events.filter((e) => e.event === 'state').map((e) => (e.data as { state: string }).state);
    expect(states).toContain('running');
  });

  it('sends messages to a running job through the API, in order; its logs stream too', async () => {
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'receive', input: { count: 3 } } });
    const { pid, node } = await running(p, job.body.id);
    expect(node).toBe(p.worker.nodeId);
    for (const n of [1, 2, 3]) {
      const sent = await p.call('POST', `/v1/processes/${pid}/messages`, { body: { message: { n } } });
      expect(sent).toMatchObject({ status: 202, body: { delivered: true, jobId: job.body.id } });
    }
    expect((await ended(p, job.body.id)).result).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const bad = await p.call('POST', `/v1/processes/${pid}/messages`, { body: { msg: 1 } });
    expect(bad.status).toBe(400);
    expect((await p.call('POST', '/v1/processes/not-a-pid/messages', { body: { message: 1 } })).status).toBe(404);
  });

  it('a job that does not read its messages is killed once they hold 16 MiB of the node, not the node filled', async () => {
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'loop', attempts: 1, timeoutMs: 20_000 } });
    const { pid } = await running(p, job.body.id);
    const body = { message: 'z'.repeat(900_000) };
    // A review sent 1,800 of these (1.6 GB) to one busy job; the node held them all. 16 MiB is 18.
    for (let round = 0; round < 12; round++) {
      await Promise.all(Array.from({ length: 8 }, () => p.call('POST', `/v1/processes/${pid}/messages`, { body })));
    }
    expect(await ended(p, job.body.id)).toMatchObject({ state: 'failed', exit: { reason: 'memory_limit' } });
  }, 60_000);

  it('lists live job processes across the cluster and kills one; another tenant sees none of them', async () => {
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 60_000 }, attempts: 1 } });
    const { pid } = await running(p, job.body.id);
    let listed: Array<Record<string, unknown>> = [];
    const deadline = Date.now() + 10_000;
    // The node's early heartbeat (as the job starts) may list the process before its sandbox is up
    // (status 'running', no memory yet): wait for a heartbeat that shows it settled in its sleep.
    while (!listed.some((proc) => proc.pid === pid && proc.status === 'waiting') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      listed = (await p.call('GET', '/v1/processes')).body.processes;
    }
    expect(listed.find((proc) => proc.pid === pid)).toMatchObject({
      node: p.worker.nodeId,
      function: expect.stringContaining('sleep@'),
      status: 'waiting',
      jobId: job.body.id,
      messageQueueLength: 0,
      memory: expect.any(Number),
      cpuTimeNs: expect.any(Number),
    });
    expect((await p.call('GET', '/v1/processes', { as: 'globex' })).body.processes).toEqual([]);
    expect((await p.call('DELETE', `/v1/processes/${pid}`, { as: 'globex' })).status).toBe(404);
    expect((await p.call('DELETE', `/v1/processes/${pid}`)).status).toBe(202);
    expect(await ended(p, job.body.id)).toMatchObject({ state: 'failed', exit: { reason: 'killed' } });
  });
});

describe('submitting and waiting in one request (Prefer: wait)', () => {
  it('answers 200 with the result when the job ends within the wait, 202 with the job as it stands when not', async () => {
    const quick = await p.call('POST', '/v1/jobs', {
      body: { function: 'echo', input: { hello: 'world' } },
      headers: { prefer: 'respond-async, wait=20' },
    });
    expect(quick.status).toBe(200);
    expect(quick.headers.get('preference-applied')).toBe('wait=20');
    expect(quick.headers.get('location')).toBe(`/v1/jobs/${quick.body.id}`);
    expect(quick.body).toMatchObject({ state: 'completed', result: { hello: 'world' } });

    const failing = await p.call('POST', '/v1/jobs', {
      body: { function: 'fail', attempts: 1 },
      headers: { prefer: 'wait=20' },
    });
    expect(failing.status).toBe(200);
    expect(failing.body.state).toBe('failed');
    expect(failing.body.exit?.reason).toBe('error');

    const started = performance.now();
    const slow = await p.call('POST', '/v1/jobs', {
      body: { function: 'sleep', input: { ms: 30_000 }, attempts: 1 },
      headers: { prefer: 'wait=0.5' },
    });
    expect(slow.status).toBe(202);
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(['waiting', 'running']).toContain(slow.body.state);
    await p.call('DELETE', `/v1/jobs/${slow.body.id}`);

    // A replay waits as the first request did: 202 while the job has not ended (a review saw 200).
    const once = { prefer: 'wait=0.3', 'idempotency-key': 'prefer-wait-not-ended' };
    const body = { function: 'sleep', input: { ms: 30_000 }, attempts: 1 };
    const first = await p.call('POST', '/v1/jobs', { body, headers: once });
    const replayed = await p.call('POST', '/v1/jobs', { body, headers: once });
    expect(first.status).toBe(202);
    expect(replayed.status).toBe(202);
    expect(replayed.body.id).toBe(first.body.id);
    expect(['waiting', 'running']).toContain(replayed.body.state);
    await p.call('DELETE', `/v1/jobs/${first.body.id}`);
  });

  it('waits for the original job on an idempotent replay, and refuses a malformed wait with a clear 400', async () => {
    const headers = { prefer: 'wait=20', 'idempotency-key': 'prefer-wait-replay' };
    const first = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 7 }, headers });
    const replay = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 7 }, headers });
    expect(first).toMatchObject({ status: 200, body: { state: 'completed', result: 7 } });
    expect(replay).toMatchObject({ status: 200, body: { id: first.body.id, state: 'completed', result: 7 } });

    for (const prefer of ['wait=61', 'wait=soon', 'wait=-1']) {
      const refused = await p.call('POST', '/v1/jobs', { body: { function: 'echo' }, headers: { prefer } });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toMatch(/Prefer header's wait must be a number of seconds from 0 to 60/);
    }
    const ignored = await p.call('POST', '/v1/jobs', {
      body: { function: 'echo' },
      headers: { prefer: 'return=minimal' },
    });
    expect(ignored.status).toBe(202);
    expect(ignored.headers.get('preference-applied')).toBeNull();
  });
});

describe('Redis outage', () => {
  it('answers 503 (not a hang, not a 500) while Redis is down, then recovers; nothing accepted is lost', async () => {
    const before = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 300 + i } } }),
      ),
    );
    expect(before.every((r) => r.status === 202)).toBe(true);
    const long = await p.call('POST', '/v1/jobs', { body: { function: 'sleep', input: { ms: 60_000 }, attempts: 1 } });
    await running(p, long.body.id);
    const pendingWait = p.call('GET', `/v1/jobs/${long.body.id}/wait?timeoutMs=20000`);
    await redis.server.kill();
    const started = performance.now();
    const during = await p.call('POST', '/v1/jobs', { body: { function: 'echo' } });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(during.headers.get('content-type')).toBe('application/problem+json');
    expect((await p.call('GET', `/v1/jobs/${before[0]?.body.id}`)).status).toBe(503);
    expect((await fetch(`${p.api.url}/readyz`)).status).toBe(503);
    expect((await pendingWait).status).toBe(503);
    expect(performance.now() - started).toBeLessThan(5000);
    await redis.server.restart();
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${p.api.url}/readyz`)).status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const after = await p.call('POST', '/v1/jobs', { body: { function: 'echo', input: 'after' } });
    expect(after.status).toBe(202);
    expect((await ended(p, after.body.id)).result).toBe('after');
    for (const response of before) expect((await ended(p, response.body.id)).state).toBe('completed');
  }, 60_000);
});
