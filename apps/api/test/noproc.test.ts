import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { useRedisServer } from '@beamline/testing/vitest';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';

const KEY = 'acme-key-0123456789abcdef';
const WORKER_MAIN = new URL('../../worker/dist/main.js', import.meta.url);
const redis = useRedisServer();
let api: RunningApi;
let worker: ChildProcess | undefined;

/** A worker node as its own OS process, so that the test can kill it with SIGKILL. */
async function spawnWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER_MAIN.pathname], {
    env: { ...process.env, REDIS_URL: redis.server.url, METRICS_PORT: '0', LOG_LEVEL: 'info', NODE_ID: 'doomed' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker node started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with ${code}:\n${output}`)));
  });
  return child;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  api = await startApi(
    loadConfig({
      REDIS_URL: redis.server.url,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      BEAMLINE_API_KEYS: `${KEY}:acme`,
    }),
    pino({ level: 'silent' }),
  );
  worker = await spawnWorker();
}, 30_000);

afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await api?.close();
});

describe('pids that no live node holds', () => {
  it('answer 404 noproc: a pid that never was, and the pid of a job whose node was killed with SIGKILL', async () => {
    const never = await call('POST', '/v1/processes/nowhere.42/messages', { message: 1 });
    expect(never).toMatchObject({ status: 404, body: { reason: 'noproc' } });

    const job = await call('POST', '/v1/jobs', { function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    expect(job.status).toBe(202);
    let pid: string | undefined;
    const deadline = Date.now() + 20_000;
    while (pid === undefined) {
      const view = await call('GET', `/v1/jobs/${job.body.id}`);
      if (view.body.state === 'running' && view.body.pid) pid = view.body.pid;
      else if (Date.now() > deadline) throw new Error(`the job did not start: ${JSON.stringify(view.body)}`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await call('POST', `/v1/processes/${pid}/messages`, { message: 'alive?' })).toMatchObject({
      status: 202,
      body: { delivered: true },
    });

    const gone = once(worker as ChildProcess, 'exit');
    worker?.kill('SIGKILL');
    await gone;
    // Its last heartbeat still lists the process for up to 15 s; no node receives for it any more.
    const message = await call('POST', `/v1/processes/${pid}/messages`, { message: 'anyone?' });
    expect(message).toMatchObject({ status: 404, body: { reason: 'noproc' } });
    expect(await call('DELETE', `/v1/processes/${pid}`)).toMatchObject({ status: 404, body: { reason: 'noproc' } });
  }, 60_000);
});
