import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { decodeControl, encodeControl, FunctionRegistry, OPERATOR_TENANT } from '@beamline/jobs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { WorkerNode } from '../src/worker-node.js';
import { runningPid, startWorker, until, useJobs } from './helpers.js';

const t = useJobs();
const redis = t.redis;

/** The value of a counter series (0 when absent). */
async function counter(worker: WorkerNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = worker.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('tenancy on the control channel', () => {
  it('a flood of 30,000 control messages from another tenant neither reaches the job nor stalls the node', async () => {
    const worker = await startWorker(redis.server.url, { LOCK_DURATION_MS: '500', STALLED_INTERVAL_MS: '500' });
    const job = await t.j.submit({ function: 'sleep', input: { ms: 2500 }, attempts: 1 }, 'acme');
    const pid = await runningPid(t.j, job.id);
    let worstLateMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 10);
      last = now;
    }, 10);
    const flood = encodeControl({ type: 'send', to: pid, from: 'w9.1', tenant: 'other', message: { forged: true } });
    // Published by redis-cli in its own process: the lateness measured here is the node's, not the publisher's.
    await publishMany(redis.server.port, t.j.keys.control(worker.nodeId), flood as string, 30_000);
    const done = await t.j.finished(job.id, 20_000);
    clearInterval(ticker);
    expect(done).toMatchObject({ state: 'completed', attempts: 1 });
    const dropped =
      (await counter(worker, 'beamline_control_refused_total', { reason: 'tenant_mismatch' })) +
      (await counter(worker, 'beamline_control_refused_total', { reason: 'overflow' }));
    expect(dropped).toBe(30_000);
    // Handled in batches, so the node's timers (lock renewal every 250 ms here) keep running.
    expect(worstLateMs).toBeLessThan(400);
  });

  it("delivers a message only when the stamped tenant is the target job's (or the operator's); drops and counts the rest", async () => {
    const worker = await startWorker(redis.server.url);
    const job = await t.j.submit({ function: 'receive', input: { count: 2, timeoutMs: 10_000 } }, 'acme');
    const pid = await runningPid(t.j, job.id);
    const channel = t.j.keys.control(worker.nodeId);

    // Another tenant, an unstamped message, garbage, a pid that runs no job: all dropped.
    expect(await t.j.control.send(pid, 'api.0', 'from-other', 'other')).toBe(1);
    await t.j.redis.publish(channel, JSON.stringify({ type: 'send', to: pid, from: 'api.0', message: 'unstamped' }));
    await t.j.redis.publish(channel, 'not json at all');
    await t.j.redis.publish(
      channel,
      encodeControl({
        type: 'exit',
        to: `${worker.nodeId}.999999`,
        from: 'api.0',
        tenant: 'acme',
        reason: 'kill',
      }) as string,
    );
    await until(async () => (await counter(worker, 'beamline_control_refused_total')) >= 4, 5000);
    expect(await counter(worker, 'beamline_control_refused_total', { reason: 'tenant_mismatch' })).toBe(1);
    expect(await counter(worker, 'beamline_control_refused_total', { reason: 'malformed' })).toBe(2);
    expect(await counter(worker, 'beamline_control_refused_total', { reason: 'no_such_job' })).toBe(1);
    expect(worker.node.isAlive(pid)).toBe(true);

    // Its own tenant and the operator get through.
    await t.j.control.send(pid, 'api.0', 'from-acme', 'acme');
    await t.j.control.send(pid, 'api.0', 'from-operator', OPERATOR_TENANT);
    const view = await t.j.finished(job.id);
    expect(view.result).toEqual(['from-acme', 'from-operator']);
  });

  it("stamps what a job sends to another node with the job's tenant, from its own record, never from the job", async () => {
    const worker = await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy(
      'acme',
      'remote-send',
      "export default async ({ to }, ctx) => { ctx.send(to, { tenant: 'victim', forged: true }); ctx.exit(to, 'kill'); return 'sent'; };",
    );
    // A node that does not exist: the test listens on its channel.
    const listener = new Redis(redis.server.url);
    const seen: unknown[] = [];
    listener.on('message', (_channel: string, text: string) => seen.push(decodeControl(text)));
    await listener.subscribe(t.j.keys.control('ghost'));
    try {
      const job = await t.j.submit({ function: 'remote-send', input: { to: 'ghost.7' } }, 'acme');
      expect((await t.j.finished(job.id)).state).toBe('completed');
      await until(() => seen.length >= 2, 5000);
      expect(seen).toEqual([
        expect.objectContaining({
          type: 'send',
          to: 'ghost.7',
          tenant: 'acme',
          message: { tenant: 'victim', forged: true },
        }),
        expect.objectContaining({ type: 'exit', to: 'ghost.7', tenant: 'acme', reason: 'kill' }),
      ]);
      expect((seen[0] as { from: string }).from).toMatch(new RegExp(`^${worker.nodeId}\\.`));
    } finally {
      listener.disconnect();
    }
  });

  it("the node's own processes (no tenant) cannot reach jobs of other nodes: dropped at the sender and counted", async () => {
    const worker = await startWorker(redis.server.url);
    const supervisor = worker.node.whereis('beamline_jobs') as string;
    worker.node.kernel.send(supervisor, 'ghost.8', 'hello');
    expect(await counter(worker, 'beamline_control_refused_total', { reason: 'no_sender_tenant' })).toBe(1);
  });

  it('the signal guard refuses send, exit, link and monitor across tenants, to node processes, and from unknown pids', async () => {
    const worker = await startWorker(redis.server.url);
    const a = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 }, 'acme');
    const b = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 }, 'other');
    const a2 = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 }, 'acme');
    const [pa, pb, pa2] = await Promise.all([a, b, a2].map((job) => runningPid(t.j, job.id)));
    const supervisor = worker.node.whereis('beamline_jobs') as string;
    for (const operation of ['send', 'exit', 'link', 'monitor'] as const) {
      expect(worker.guardSignal(pa as string, pb as string, operation)).toMatch(/another tenant/);
      expect(worker.guardSignal(pa as string, supervisor, operation)).toMatch(/worker node itself/);
      expect(worker.guardSignal(pa as string, 'beamline_jobs', operation)).toMatch(/worker node itself/);
      expect(worker.guardSignal(`${worker.nodeId}.424242`, pa as string, operation)).toMatch(
        /no job of a known tenant/,
      );
      expect(worker.guardSignal(supervisor, pa as string, operation)).toMatch(/no job of a known tenant/);
      expect(worker.guardSignal(pa as string, pa2 as string, operation)).toBeUndefined();
      // Another node's pid: allowed here, stamped on the way out, checked by that node.
      expect(worker.guardSignal(pa as string, 'elsewhere.3', operation)).toBeUndefined();
    }
    await expect(
      worker.fetchFor(supervisor, { url: 'https://example.com/', method: 'GET', headers: [] }),
    ).rejects.toThrow(/no job of a known tenant/);
    for (const job of [a, b, a2]) expect(await t.j.store.cancel(job.id, job.tenant)).toBe('cancelling');
  });
});

describe('the signal guard, end to end', () => {
  it("job code cannot monitor or link to another tenant's job (the job ends with BadArgError); its own tenant's it can", async () => {
    const worker = await startWorker(redis.server.url);
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    const watcher =
      "export default async ({ target, how }, ctx) => { if (how === 'monitor') ctx.monitor(target); else ctx.link(target); await ctx.sleep(200); return 'allowed'; };";
    await registry.deploy('other', 'watcher', watcher);
    await registry.deploy('default', 'watcher', watcher);
    const victim = await t.j.submit({ function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    const victimPid = await runningPid(t.j, victim.id);
    for (const how of ['monitor', 'link']) {
      const attack = await t.j.submit({ function: 'watcher', input: { target: victimPid, how }, attempts: 1 }, 'other');
      const refused = await t.j.finished(attack.id);
      expect(refused).toMatchObject({ state: 'failed', exit: { reason: 'error', error: { name: 'BadArgError' } } });
      expect(refused.exit?.message).toMatch(/another tenant/);
    }
    const own = await t.j.submit({
      function: 'watcher',
      input: { target: victimPid, how: 'monitor' },
      attempts: 1,
    });
    expect(await t.j.finished(own.id)).toMatchObject({ state: 'completed', result: 'allowed' });
    expect(worker.node.isAlive(victimPid)).toBe(true);
    expect(await t.j.store.cancel(victim.id, 'default')).toBe('cancelling');
  });
});

describe('per-tenant limits', () => {
  it("with a cap of 1 per node, a second job of tenant A waits while tenant B's job runs; no attempt is used", async () => {
    const worker = await startWorker(redis.server.url, { WORKER_CONCURRENCY: '4', TENANT_MAX_RUNNING_PER_NODE: '1' });
    const a1 = await t.j.submit({ function: 'sleep', input: { ms: 1000 } }, 'tenant-a');
    await runningPid(t.j, a1.id);
    const a2 = await t.j.submit({ function: 'sleep', input: { ms: 10 } }, 'tenant-a');
    const b = await t.j.submit({ function: 'sleep', input: { ms: 10 } }, 'tenant-b');
    const bView = await t.j.finished(b.id);
    expect(bView.state).toBe('completed');
    // B finished while A's first job still runs; A's second has not started.
    expect((await t.j.store.get(a1.id))?.state).toBe('running');
    expect((await t.j.store.get(a2.id))?.state).not.toBe('completed');
    const [a1View, a2View] = await Promise.all([t.j.finished(a1.id), t.j.finished(a2.id)]);
    expect(a1View.state).toBe('completed');
    expect(a2View).toMatchObject({ state: 'completed', attemptsMade: 1 });
    expect(a2View.startedAt as number).toBeGreaterThanOrEqual((a1View.finishedAt as number) - 5);
    expect(await counter(worker, 'beamline_tenant_throttled_total')).toBeGreaterThanOrEqual(1);
  });

  it('DEFAULT_JOB_TIMEOUT_MS ends a job that sets no timeout; TENANT_LIMITS gives a tenant its own default', async () => {
    await startWorker(redis.server.url, {
      DEFAULT_JOB_TIMEOUT_MS: '300',
      TENANT_LIMITS: JSON.stringify({ patient: { timeoutMs: 5000 } }),
    });
    const short = await t.j.submit({ function: 'sleep', input: { ms: 2000 }, attempts: 1 }, 'hasty');
    const patient = await t.j.submit({ function: 'sleep', input: { ms: 800 }, attempts: 1 }, 'patient');
    const own = await t.j.submit({ function: 'sleep', input: { ms: 800 }, attempts: 1, timeoutMs: 5000 }, 'hasty');
    expect(await t.j.finished(short.id)).toMatchObject({ state: 'failed', exit: { reason: 'timeout' } });
    expect((await t.j.finished(patient.id)).state).toBe('completed');
    expect((await t.j.finished(own.id)).state).toBe('completed');
  });
});

/** PUBLISHes `message` `count` times to `channel` through `redis-cli --pipe` (another process). */
async function publishMany(port: number, channel: string, message: string, count: number): Promise<void> {
  const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  const command = `*3\r\n${bulk('PUBLISH')}${bulk(channel)}${bulk(message)}`;
  const cli = spawn('redis-cli', ['-p', String(port), '--pipe'], { stdio: ['pipe', 'ignore', 'inherit'] });
  cli.stdin.end(command.repeat(count));
  const [code] = (await once(cli, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`redis-cli --pipe exited with ${code}`);
}
