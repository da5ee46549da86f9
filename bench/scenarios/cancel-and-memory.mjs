// 5. Cancel through the API: from DELETE /v1/jobs/{id} to the running job's end (p50, p99).
// 6. Memory: RSS per live BullMQ sandboxed job, in worker threads and in child processes.
import { loadConfig, startApi } from '@beamline/api';
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { beamlineWorker, bullmqWorker, childrenOf, quick, rssOf, sleep, stop, summarize } from './common.mjs';

const KEY = 'bench-key-0123456789abcdef';

export async function cancelThroughApi() {
  const redis = await RedisServer.start();
  const worker = await beamlineWorker(redis.url, 'beamline');
  const api = await startApi(
    loadConfig({
      REDIS_URL: redis.url,
      PORT: '0',
      HOST: '127.0.0.1',
      BEAMLINE_API_KEYS: `${KEY}:bench`,
      LOG_LEVEL: 'silent',
    }),
    pino({ level: 'silent' }),
  );
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const latencies = [];
  for (let i = 0; i < (quick ? 10 : 40); i++) {
    const { id } = await (
      await fetch(`${api.url}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ function: 'loop', attempts: 1 }),
      })
    ).json();
    for (;;) {
      const job = await (await fetch(`${api.url}/v1/jobs/${id}`, { headers })).json();
      if (job.state === 'running') break;
      await sleep(5);
    }
    const start = performance.now();
    await fetch(`${api.url}/v1/jobs/${id}`, { method: 'DELETE', headers });
    const ended = await (await fetch(`${api.url}/v1/jobs/${id}/wait?timeoutMs=10000`, { headers })).json();
    if (ended.state !== 'cancelled') throw new Error(`job ${id} ended ${ended.state}`);
    latencies.push(performance.now() - start);
  }
  await api.close();
  await stop(worker);
  await redis.stop();
  return summarize(latencies);
}

export async function sandboxedMemory() {
  const results = {};
  for (const mode of ['threads', 'processes']) {
    const redis = await RedisServer.start();
    const queue = new Queue('jobs', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: 'mem' });
    const live = 20;
    const worker = await bullmqWorker(redis.url, 'mem', mode, live);
    await sleep(500);
    const before = rssOf(worker.pid) + childrenOf(worker.pid).reduce((sum, pid) => sum + rssOf(pid), 0);
    await queue.addBulk(Array.from({ length: live }, () => ({ name: 'idle', data: { sleepMs: 8000 } })));
    for (;;) {
      const { active = 0 } = await queue.getJobCounts('active');
      if (active >= live) break;
      await sleep(50);
    }
    await sleep(1500);
    const during = rssOf(worker.pid) + childrenOf(worker.pid).reduce((sum, pid) => sum + rssOf(pid), 0);
    results[mode] = (during - before) / live;
    console.log(`memory: BullMQ sandboxed (${mode}): ${(results[mode] / 1048576).toFixed(2)} MB per live job`);
    await stop(worker);
    await queue.close();
    await redis.stop();
  }
  return results;
}
