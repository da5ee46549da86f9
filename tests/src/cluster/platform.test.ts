import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RunningApi, startApi } from '@beamline/api';
import { useRedisCluster } from '@beamline/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The platform on a real 3-master Redis Cluster: a worker node (its own OS process) and the API,
 * both with REDIS_CLUSTER=true and the cluster's nodes as seeds; jobs submitted, run, cancelled
 * and listed over HTTP.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
const KEY = 'cluster-test-key-0123456789abcdef';
const redisCluster = useRedisCluster();
let api: RunningApi;
let worker: ChildProcess;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON
type Json = any;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

async function until(path: string, done: (job: Json) => boolean, ms = 20_000): Promise<Json> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { body } = await call('GET', path);
    if (done(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function silentLogger(): Parameters<typeof startApi>[1] {
  const logger: object = new Proxy(
    {},
    {
      get: (_target, property) =>
        property === 'child' ? () => logger : property === 'level' ? 'silent' : () => undefined,
    },
  );
  return logger as Parameters<typeof startApi>[1];
}

beforeAll(async () => {
  const seeds = redisCluster.cluster.urls.join(',');
  api = await startApi(
    loadConfig({
      REDIS_URL: seeds,
      REDIS_CLUSTER: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      BEAMLINE_API_KEYS: `${KEY}:acme`,
    }),
    silentLogger(),
  );
  worker = spawn(process.execPath, [`${root}apps/worker/dist/main.js`], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: seeds,
      REDIS_CLUSTER: 'true',
      NODE_ID: 'cluster-node',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    worker.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker node started')) resolve();
    });
    worker.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    worker.once('exit', (code) => reject(new Error(`the worker exited with ${code}:\n${output}`)));
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  await api?.close();
});

describe('Beamline on a 3-master Redis Cluster', () => {
  it('submits, runs, lists and cancels jobs', async () => {
    const submitted = await call('POST', '/v1/jobs', { function: 'echo', input: { hello: 'cluster' } });
    expect(submitted.status).toBe(202);
    const done = await until(`/v1/jobs/${submitted.body.id}`, (job) => job.state === 'completed');
    expect(done).toMatchObject({ state: 'completed', result: { hello: 'cluster' } });

    const batch = await call('POST', '/v1/jobs/batch', {
      jobs: Array.from({ length: 10 }, (_, i) => ({ function: 'echo', input: i })),
    });
    expect(batch.status).toBe(202);
    const last = batch.body.jobs.at(-1).id;
    await until(`/v1/jobs/${last}`, (job) => job.state === 'completed');
    const page = await call('GET', '/v1/jobs?limit=3');
    expect(page.body.jobs.map((job: Json) => job.input)).toEqual([9, 8, 7]);
    expect(page.body.nextCursor).toBe('3');

    const slow = await call('POST', '/v1/jobs', { function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    const running = await until(`/v1/jobs/${slow.body.id}`, (job) => job.state === 'running' && job.pid);
    expect(running).toMatchObject({ state: 'running', node: 'cluster-node' });
    const cancel = await call('DELETE', `/v1/jobs/${slow.body.id}`);
    expect(cancel).toMatchObject({ status: 202, body: { outcome: 'cancelling' } });
    const cancelled = await until(`/v1/jobs/${slow.body.id}`, (job) => job.state === 'cancelled');
    expect(cancelled).toMatchObject({ state: 'cancelled', exit: { reason: 'cancelled' } });

    const later = await call('POST', '/v1/jobs', { function: 'echo', delayMs: 60_000 });
    expect((await call('DELETE', `/v1/jobs/${later.body.id}`)).body.outcome).toBe('removed');
    expect((await call('GET', `/v1/jobs/${later.body.id}`)).status).toBe(404);
  }, 60_000);

  it('runs a job tree: children started and awaited, their ends delivered through the cluster (ADR 0013)', async () => {
    const deployed = await fetch(`${api.url}/v1/functions/tree`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/javascript' },
      body: `export default async (_, ctx) => {
        const linked = await ctx.startJob('echo', 'a');
        const watched = await ctx.startJob('echo', 'b', { monitor: true });
        const down = await ctx.receive((m) => m.type === 'DOWN');
        return [await ctx.awaitJob(linked), down.result];
      };`,
    });
    expect(deployed.status).toBe(201);
    const parent = await call('POST', '/v1/jobs', { function: 'tree' });
    const done = await until(`/v1/jobs/${parent.body.id}`, (job) => job.state === 'completed');
    expect(done).toMatchObject({ result: ['a', 'b'], children: { total: 2 } });
    const child = await call('GET', `/v1/jobs/${done.children.ids[0]}`);
    expect(child.body).toMatchObject({ state: 'completed', parent: { id: parent.body.id, relation: 'link' } });
  }, 60_000);
});
