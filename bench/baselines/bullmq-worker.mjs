// A baseline BullMQ worker in its own process: node bullmq-worker.mjs <redisUrl> <prefix> <mode> <concurrency>
// mode: plain (in-process processor) | threads (sandboxed, worker threads) | processes (sandboxed, child processes).
// The processor busy-loops for job.data.ms milliseconds (0: a no-op). Prints "ready" when consuming.
import { Worker } from 'bullmq';

const [redisUrl, prefix, mode, concurrency] = process.argv.slice(2);
const processor = new URL('./busy-processor.mjs', import.meta.url);
const busy = async (job) => {
  const end = performance.now() + Number(job.data?.input?.ms ?? job.data?.ms ?? 0);
  while (performance.now() < end) {}
  return job.data;
};
const worker = new Worker('jobs', mode === 'plain' ? busy : processor, {
  connection: { url: redisUrl, maxRetriesPerRequest: null },
  prefix,
  concurrency: Number(concurrency),
  ...(mode === 'threads' ? { useWorkerThreads: true } : {}),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', () => worker.close(true).then(() => process.exit(0)));
