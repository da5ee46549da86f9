// 3. Short 5 ms CPU jobs submitted at a steady rate while 4 × cores long CPU hogs run, against
// the same jobs on an idle system; Beamline (hogs at equal and at low priority), a plain BullMQ
// worker (hogs block its event loop) and a sandboxed one (hogs hold its threads).
// 4. Priorities: a high-priority CPU job beside low-priority hogs, against its time alone.
import { RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import {
  beamlineWorker,
  builtins,
  bullmqWorker,
  cores,
  queuePrefix,
  quick,
  sleep,
  stop,
  summarize,
} from './common.mjs';

const HOG_MS = quick ? 4000 : 10_000;
const EVERY_MS = 100;
const CONCURRENCY = 16;

async function shortJobs(queue, data, priority, windowMs) {
  const ids = [];
  const end = Date.now() + windowMs;
  while (Date.now() < end) {
    const job = await queue.add(
      'cpu',
      data('cpu', { ms: 5 }, priority),
      priority === 'high' ? { priority: 1 } : { priority: 2 },
    );
    ids.push(job.id);
    await sleep(EVERY_MS);
  }
  await sleep(2000);
  const latencies = [];
  let timedOut = 0;
  for (const id of ids) {
    const job = await queue.getJob(id);
    if (job?.finishedOn) latencies.push(job.finishedOn - job.timestamp);
    else timedOut++;
  }
  return { ...summarize(latencies.length ? latencies : [Number.NaN]), timedOut, submitted: ids.length };
}

export async function hogs() {
  const redis = await RedisServer.start();
  const prefix = 'hogs';
  const queue = new Queue('jobs', {
    connection: { url: redis.url, maxRetriesPerRequest: null },
    prefix: queuePrefix(prefix),
  });
  const data = await builtins(redis.url, prefix);
  const results = {};
  const variants = [
    ['beamline, hogs at equal priority', 'beamline', 'normal'],
    ['beamline, hogs at low priority', 'beamline', 'low'],
    ['plain BullMQ Worker', 'plain', 'normal'],
    ['sandboxed BullMQ Worker (threads)', 'threads', 'normal'],
  ];
  for (const [label, system, hogPriority] of variants) {
    await queue.obliterate({ force: true });
    const consumer =
      system === 'beamline'
        ? await beamlineWorker(redis.url, prefix, { WORKER_CONCURRENCY: String(CONCURRENCY) })
        : await bullmqWorker(redis.url, prefix, system, CONCURRENCY);
    const idle = await shortJobs(queue, data, 'normal', quick ? 1500 : 3000);
    const hogJobs = Array.from({ length: 4 * cores }, (_, i) => ({
      name: 'cpu',
      data: data('cpu', { ms: HOG_MS, hog: i }, hogPriority, { timeoutMs: HOG_MS * 3 }),
      opts: { priority: hogPriority === 'low' ? 3 : 2 },
    }));
    await queue.addBulk(hogJobs);
    await sleep(300);
    const loaded = await shortJobs(queue, data, 'normal', HOG_MS - 1000);
    results[label] = { idle, loaded };
    console.log(
      `short jobs: ${label}: idle p99 ${idle.p99?.toFixed(1)} ms, beside hogs p50 ${loaded.median?.toFixed(1)} p99 ${loaded.p99?.toFixed(1)} ms, ${loaded.timedOut}/${loaded.submitted} not done in the window`,
    );
    await stop(consumer);
  }

  // Priorities: a high-priority CPU job's run time beside low-priority hogs, against idle.
  await queue.obliterate({ force: true });
  const consumer = await beamlineWorker(redis.url, prefix, { WORKER_CONCURRENCY: String(CONCURRENCY) });
  const runTime = async () => {
    const job = await queue.add('cpu', data('cpu', { ms: 300 }, 'high'), { priority: 1 });
    for (;;) {
      const current = await queue.getJob(job.id);
      if (current?.finishedOn) return current.finishedOn - current.processedOn;
      await sleep(10);
    }
  };
  const alone = [];
  for (let i = 0; i < 3; i++) alone.push(await runTime());
  await queue.addBulk(
    Array.from({ length: 4 * cores }, () => ({
      name: 'cpu',
      data: data('cpu', { ms: HOG_MS }, 'low', { timeoutMs: HOG_MS * 3 }),
      opts: { priority: 3 },
    })),
  );
  await sleep(500);
  const beside = [];
  for (let i = 0; i < 3; i++) beside.push(await runTime());
  results.priorities = { alone: summarize(alone), besideLowHogs: summarize(beside) };
  console.log(
    `priorities: high job alone ${results.priorities.alone.median} ms, beside low hogs ${results.priorities.besideLowHogs.median} ms`,
  );
  await stop(consumer);
  await queue.close();
  await redis.stop();
  return results;
}
