import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runningPid, startWorker, until, useJobs } from './helpers.js';

const t = useJobs();
const redis = t.redis;

describe('the worker as an OS process', () => {
  it('refuses to start with an invalid configuration, naming the variable, and exits 78', async () => {
    const child = spawn(process.execPath, [new URL('../dist/main.js', import.meta.url).pathname], {
      env: { ...process.env, REDIS_URL: redis.server.url, METRICS_PORT: 'ninety' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(78);
    expect(stderr).toContain('METRICS_PORT must be a whole number from 0 to 65535; got "ninety"');
  });
});

describe('supervision all the way up', () => {
  it('restarts a crashed component, and gives up (the OS process must exit) when they keep crashing', async () => {
    let fatal: unknown;
    const worker = await startWorker(redis.server.url, {}, { onFatal: (reason) => (fatal = reason) });
    const consumerPid = () =>
      worker.node.processes().find((pid) => worker.node.processInfo(pid)?.initialFunction === 'consumer');
    const first = consumerPid() as string;
    const exited = worker.node.waitExit(first);
    worker.node.exit(first, 'kill');
    await exited;
    await until(() => consumerPid() !== undefined && consumerPid() !== first);
    const probe = await t.j.submit({ function: 'echo', input: 'restarted' });
    expect((await t.j.finished(probe.id)).state).toBe('completed');
    expect(fatal).toBeUndefined();
    for (let i = 0; i < 6 && fatal === undefined; i++) {
      const pid = consumerPid();
      if (pid) worker.node.exit(pid, 'kill');
      await until(() => fatal !== undefined || (consumerPid() !== undefined && consumerPid() !== pid));
    }
    expect(fatal).toBe('shutdown');
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`)).status).toBe(503);
  });
});

describe('HTTP endpoints', () => {
  it('serves /healthz, /readyz and /metrics with the scheduler and job metrics', async () => {
    const worker = await startWorker(redis.server.url);
    const base = `http://127.0.0.1:${worker.httpPort}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready', reasons: [] });
    const done = await t.j.submit({ function: 'echo', input: 1 });
    await t.j.finished(done.id);
    const failed = await t.j.submit({ function: 'loop', timeoutMs: 50, attempts: 1 });
    await t.j.finished(failed.id);
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const series: Array<[string, Record<string, string>]> = [
      ['beamline_scheduler_utilization', {}],
      ['beamline_scheduler_cores', {}],
      ['beamline_run_queue_length', { priority: 'low' }],
      ['beamline_processes', { kind: 'green', status: 'waiting' }],
      ['beamline_process_cpu_seconds_total', { priority: 'normal' }],
      ['beamline_process_spawns_total', { kind: 'isolated' }],
      ['beamline_process_message_seconds_total', { kind: 'paused' }],
      ['beamline_process_exits_total', { reason: 'timeout' }],
      ['beamline_kills_total', { reason: 'timeout' }],
      ['beamline_isolate_pool_threads', { state: 'warm' }],
      ['beamline_control_plane_lag_seconds', { quantile: '0.99' }],
      ['beamline_control_plane_utilization', {}],
      ['beamline_control_plane_stalled_seconds_total', {}],
      ['beamline_priorities_enforced', {}],
      ['beamline_tenant_cpu_shares_enforced', {}],
      ['beamline_queue_depth', { state: 'prioritized' }],
      ['beamline_job_run_seconds_bucket', { le: '0.005', function: 'echo' }],
      ['beamline_job_wait_seconds_count', { function: 'echo' }],
      ['beamline_jobs_completed_total', { function: 'echo' }],
      ['beamline_jobs_failed_total', { function: 'loop', reason: 'timeout', final: 'true' }],
      ['beamline_supervisor_restarts_total', {}],
      ['beamline_supervisor_intensity_exhausted_total', {}],
    ];
    const lines = text.split('\n');
    for (const [name, labels] of series) {
      const found = lines.some(
        (line) =>
          line.startsWith(`${name}{`) &&
          Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)),
      );
      expect(found, `${name} ${JSON.stringify(labels)}`).toBe(true);
    }
    expect(text).toContain(`node="${worker.nodeId}"`);
    if (process.platform === 'linux' && process.getuid?.() === 0) {
      // As root on Linux the jobs that ran were placed in their tenant's CPU group.
      expect(lines.find((line) => line.startsWith('beamline_tenant_cpu_shares_enforced{'))).toMatch(/ 1$/);
    }
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('/readyz says not ready while draining', async () => {
    const worker = await startWorker(redis.server.url, { DRAIN_DEADLINE_MS: '5000' });
    const job = await t.j.submit({ function: 'sleep', input: { ms: 300 } });
    await runningPid(t.j, job.id);
    const draining = worker.drain();
    const ready = await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ reasons: expect.arrayContaining(['draining']) });
    expect(await draining).toEqual({ finished: 1, handedBack: 0 });
    expect((await t.j.store.get(job.id))?.state).toBe('completed');
  });
});
