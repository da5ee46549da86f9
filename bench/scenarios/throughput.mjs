// 1. No-op jobs per second: K consumer processes on one private Redis (K = 1, 2, 4), Beamline
// worker nodes against plain and sandboxed BullMQ workers at the same concurrency, alternating.
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { beamlineWorker, builtins, bullmqWorker, quick, stop, summarize } from './common.mjs';

const JOBS = quick ? 2000 : 5000;
const RUNS = quick ? 1 : 3;
const CONCURRENCY = 16;

export async function throughput() {
  const redis = await RedisServer.start();
  const prefix = 'tp';
  const queue = new Queue('jobs', { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix });
  const data = await builtins(redis.url, prefix);
  const results = {};
  for (const processes of [1, 2, 4]) {
    for (const system of ['beamline', 'plain', 'threads']) results[`${system}-${processes}`] = [];
    for (let run = 0; run < RUNS; run++) {
      for (const system of ['beamline', 'plain', 'threads']) {
        await queue.obliterate({ force: true });
        await queue.pause();
        const consumers = await Promise.all(
          Array.from({ length: processes }, () =>
            system === 'beamline'
              ? beamlineWorker(redis.url, prefix, { WORKER_CONCURRENCY: String(CONCURRENCY) })
              : bullmqWorker(redis.url, prefix, system, CONCURRENCY),
          ),
        );
        for (let start = 0; start < JOBS; start += 1000) {
          const batch = Array.from({ length: Math.min(1000, JOBS - start) }, (_, i) => ({
            name: 'echo',
            data: data('echo', start + i),
            opts: { priority: 2 },
          }));
          await queue.addBulk(batch);
        }
        const begin = performance.now();
        await queue.resume();
        for (;;) {
          const { completed = 0, failed = 0 } = await queue.getJobCounts('completed', 'failed');
          if (failed > 0) throw new Error(`${system}: ${failed} jobs failed`);
          if (completed >= JOBS) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        results[`${system}-${processes}`].push(JOBS / ((performance.now() - begin) / 1000));
        await Promise.all(consumers.map(stop));
      }
    }
    console.log(
      `throughput, ${processes} process(es):`,
      Object.fromEntries(
        Object.entries(results)
          .filter(([k]) => k.endsWith(`-${processes}`))
          .map(([k, v]) => [k, Math.round(v.at(-1))]),
      ),
    );
  }
  await queue.close();
  await redis.stop();
  return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, summarize(v)]));
}
