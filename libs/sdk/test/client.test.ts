import { createServer } from 'node:net';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BeamlineApiError,
  BeamlineConnectionError,
  createClient,
  hasEnded,
  type Job,
  type JobEvent,
  type JobLogs,
  type JobPage,
  type JobState,
} from '../src/index.js';
import { KEYS, usePlatform } from './platform.js';

const platform = usePlatform();

const client = () => createClient({ url: platform.url, apiKey: KEYS.acme });

const CHATTY = `export default async (input, ctx) => {
  for (let i = 1; i <= input.lines; i++) ctx.log('line ' + i);
  ctx.progress({ half: true });
  await ctx.sleep(200);
  return { sum: input.a + input.b };
};`;

describe('the REST client generated from the OpenAPI document', () => {
  it('has the types of the document', () => {
    expectTypeOf<Job['id']>().toEqualTypeOf<string>();
    expectTypeOf<JobState>().toEqualTypeOf<'waiting' | 'delayed' | 'running' | 'completed' | 'failed' | 'cancelled'>();
    expectTypeOf<JobPage['jobs']>().toEqualTypeOf<Job[]>();
    expectTypeOf<JobLogs['logs']>().toEqualTypeOf<string[]>();
  });

  it('runs the main journey: deploy, submit, wait, get, logs, events', async () => {
    const beamline = client();
    const deployed = await beamline.functions.deploy('chatty', CHATTY);
    expect(deployed).toMatchObject({ name: 'chatty', version: 1, created: true });
    expect((await beamline.functions.deploy('chatty', CHATTY)).created).toBe(false);

    const submitted = await beamline.jobs.submit({ function: 'chatty', input: { a: 2, b: 3, lines: 3 } });
    expect(submitted).toMatchObject({ function: 'chatty', version: 1 });
    expect(hasEnded(submitted)).toBe(false);

    const ended = await beamline.jobs.wait(submitted.id, { timeoutMs: 60_000 });
    expect(ended).toMatchObject({ id: submitted.id, state: 'completed', result: { sum: 5 } });
    expect(await beamline.jobs.get(submitted.id)).toMatchObject({ state: 'completed', progress: { half: true } });

    expect(await beamline.jobs.logs(submitted.id)).toEqual({
      logs: ['[info] line 1', '[info] line 2', '[info] line 3'],
      total: 3,
      offset: 0,
    });
    expect(await beamline.jobs.logs(submitted.id, { offset: 2, limit: 5 })).toEqual({
      logs: ['[info] line 3'],
      total: 3,
      offset: 2,
    });

    const page = await beamline.jobs.list({ function: 'chatty', limit: 5 });
    expect(page.jobs.map((job) => job.id)).toContain(submitted.id);
  });

  it('iterates over the server-sent events of a job until it ends', async () => {
    const beamline = client();
    const job = await beamline.jobs.submit({ function: 'chatty', input: { a: 1, b: 1, lines: 2 } });
    const events: JobEvent[] = [];
    for await (const event of beamline.events(job.id)) events.push(event);
    expect(events[0]?.type).toBe('state');
    expect(events.at(-1)).toMatchObject({ type: 'end', job: { id: job.id, state: 'completed', result: { sum: 2 } } });
    const logs = events.flatMap((e) => (e.type === 'log' ? [e.line] : []));
    expect(logs).toEqual(['[info] line 1', '[info] line 2']);

    // Breaking out of the loop closes the stream.
    const long = await beamline.jobs.submit({ function: 'sleep', input: { ms: 30_000 } });
    for await (const event of beamline.events(long.id)) {
      expect(event.type).toBe('state');
      break;
    }
    await beamline.jobs.cancel(long.id);
    expect((await beamline.jobs.wait(long.id)).state).toBe('cancelled');
  });

  it('wait gives the job as it stands when its timeout passes first', async () => {
    const beamline = client();
    const job = await beamline.jobs.submit({ function: 'sleep', input: { ms: 30_000 } });
    const early = await beamline.jobs.wait(job.id, { timeoutMs: 300 });
    expect(hasEnded(early)).toBe(false);
    await beamline.jobs.cancel(job.id);
  });

  it('run submits and returns the ended job in one call; with a timeout, the job as it stands', async () => {
    const beamline = client();
    const ran = await beamline.jobs.run({ function: 'echo', input: { n: 42 } });
    expect(ran).toMatchObject({ state: 'completed', result: { n: 42 } });
    const started = performance.now();
    const early = await beamline.jobs.run({ function: 'sleep', input: { ms: 30_000 } }, { timeoutMs: 400 });
    expect(hasEnded(early)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
    await beamline.jobs.cancel(early.id);
  });

  it('throws BeamlineApiError with the problem+json fields', async () => {
    const beamline = client();
    const invalid = await beamline.jobs
      .submit({ function: 'chatty', priority: 'urgent' as never, timeoutMs: -5 })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(BeamlineApiError);
    const problem = invalid as BeamlineApiError;
    expect(problem.status).toBe(400);
    expect(problem.title).toBe('Invalid request');
    expect(problem.errors.map((e) => e.path).sort()).toEqual(['priority', 'timeoutMs']);
    expect(problem.message).toMatch(/^Invalid request \(400\): /);

    const missing = (await beamline.jobs.get('424242').catch((error: unknown) => error)) as BeamlineApiError;
    expect(missing).toMatchObject({ status: 404, title: 'Not found', detail: 'Job 424242 does not exist.' });

    const tenantOnly = (await beamline.cluster.nodes().catch((error: unknown) => error)) as BeamlineApiError;
    expect(tenantOnly.status).toBe(403);

    const badKey = createClient({ url: platform.url, apiKey: 'wrong-key-0123456789' });
    expect(await badKey.jobs.list().catch((error: unknown) => (error as BeamlineApiError).status)).toBe(401);
  });

  it('throws BeamlineConnectionError when the API cannot be reached, and refuses bad options at once', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const offline = createClient({ url: `http://127.0.0.1:${port}`, apiKey: KEYS.acme });
    const error = await offline.jobs.get('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BeamlineConnectionError);
    expect((error as Error).message).toContain('ECONNREFUSED');

    expect(() => createClient({ url: 'localhost:3000', apiKey: 'k' })).toThrow(/http:\/\/ or https:\/\/ URL/);
    expect(() => createClient({ url: 'http://localhost:3000', apiKey: '' })).toThrow(/needs an apiKey/);
  });

  it('reaches processes and the cluster', async () => {
    const beamline = client();
    const admin = createClient({ url: platform.url, apiKey: KEYS.admin });
    const job = await beamline.jobs.submit({ function: 'receive', input: { count: 1 } });
    const running = await waitForPid(job.id);
    const processes = await beamline.processes.list();
    expect(processes.find((p) => p.pid === running)).toMatchObject({ jobId: job.id });
    expect(await beamline.processes.send(running, { hello: 'world' })).toMatchObject({ pid: running, jobId: job.id });
    expect((await beamline.jobs.wait(job.id)).result).toEqual([{ hello: 'world' }]);

    const nodes = await admin.cluster.nodes();
    expect(nodes).toHaveLength(1);
    expect(nodes[0]?.stats.cores).toBeGreaterThan(0);
    expect((await admin.cluster.queues()).length).toBeGreaterThan(0);
  });
});

async function waitForPid(id: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await client().jobs.get(id);
    if (job.state === 'running' && job.pid) return job.pid;
    if (Date.now() > deadline) throw new Error(`job ${id} did not start: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
