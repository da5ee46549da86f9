// 5. Cancel through the API: from DELETE /v1/jobs/{id} to the running job's end (p50, p99).
// 6. Memory: PSS (process tree: the consumer and its sandboxes, threads or child processes) per
// live job: a Beamline worker node (one sandbox process per job) and BullMQ sandboxed workers.
import { loadConfig, startApi } from '@beamline/api';
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import {
  beamlineWorker,
  builtins,
  bullmqWorker,
  pssOfTree,
  queuePrefix,
  quick,
  sleep,
  stop,
  summarize,
} from './common.mjs';

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
  for (const mode of ['beamline', 'threads', 'processes']) {
    const redis = await RedisServer.start();
    const queue = new Queue('jobs', {
      connection: { url: redis.url, maxRetriesPerRequest: null },
      prefix: queuePrefix('mem'),
    });
    const live = 20;
    const data = mode === 'beamline' ? await builtins(redis.url, 'mem') : undefined;
    const worker =
      mode === 'beamline'
        ? await beamlineWorker(redis.url, 'mem', { WORKER_CONCURRENCY: String(live), PRESTART_THREADS: '0' })
        : await bullmqWorker(redis.url, 'mem', mode, live);
    await sleep(500);
    const before = pssOfTree(worker.pid);
    await queue.addBulk(
      Array.from({ length: live }, (_, i) =>
        mode === 'beamline'
          ? { name: 'sleep', data: data('sleep', { ms: 8000, i }), opts: { priority: 2 } }
          : { name: 'idle', data: { sleepMs: 8000 } },
      ),
    );
    for (;;) {
      const { active = 0 } = await queue.getJobCounts('active');
      if (active >= live) break;
      await sleep(50);
    }
    await sleep(1500);
    const during = pssOfTree(worker.pid);
    results[mode] = (during - before) / live;
    console.log(`memory: ${mode}: ${(results[mode] / 1048576).toFixed(2)} MB PSS per live job`);
    await stop(worker);
    await queue.close();
    await redis.stop();
  }
  return results;
}
