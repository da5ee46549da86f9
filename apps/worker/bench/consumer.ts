import { QUEUE_NAME } from '@beamline/jobs';
import { Worker } from 'bullmq';
import { pino } from 'pino';
import { WorkerNode } from '../src/worker-node.js';
import { benchConfig, CONCURRENCY, QUEUE_PREFIX } from './config.js';

/**
 * One consumer of the worker bench's scaling runs, in its own OS process:
 * `node consumer.js <beamline|plain> <redisUrl>`. `beamline`: a worker node started as the bench
 * starts it in its own process (WorkerNode.start, same configuration); `plain`: a BullMQ Worker
 * with an in-process no-op processor, same concurrency. Prints "ready" once consuming; SIGTERM stops it.
 */

const [kind, redisUrl] = process.argv.slice(2) as [string, string];
let stop: () => Promise<void>;
if (kind === 'beamline') {
  const node = await WorkerNode.start(benchConfig(redisUrl), pino({ level: 'silent' }));
  stop = () => node.stop();
} else {
  const worker = new Worker(QUEUE_NAME, async (job) => job.data, {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    prefix: QUEUE_PREFIX,
    concurrency: CONCURRENCY,
  });
  await worker.waitUntilReady();
  stop = () => worker.close();
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
