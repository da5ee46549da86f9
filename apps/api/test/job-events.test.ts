import { useRedisServer } from '@beamline/testing/vitest';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { ENDING_EVENTS, JobEvents } from '../src/job-events.js';

const QUEUE = 'events-test';
const redis = useRedisServer();
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

const connection = () => ({ url: redis.server.url, maxRetriesPerRequest: null });
const settledWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('waiting for news of a job', () => {
  it('for its end: its start and progress do not wake the wait, its completion does', async () => {
    const events = new JobEvents(
      QUEUE,
      () => ({ connection: connection() }),
      () => undefined,
      100,
    );
    closers.push(() => events.close());
    const queue = new Queue(QUEUE, { connection: connection() });
    closers.push(() => queue.close());
    // Its own reader: it sees the progress event the wait must sleep through.
    const observer = new QueueEvents(QUEUE, { connection: connection() });
    closers.push(() => observer.close());
    await observer.waitUntilReady();
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = new Worker(
      QUEUE,
      async (job: Job) => {
        await job.updateProgress(50);
        await finished;
        return 'done';
      },
      { connection: connection() },
    );
    closers.push(() => worker.close());
    // Closed in reverse: the job finishes before the worker closes, whatever the test saw.
    closers.push(async () => finish());

    // The reader connects on the first wait; until it listens, waits are cut to 100 ms.
    for (let tries = 0; tries < 40; tries++) {
      const probe = events.next('probe', 1000);
      const cut = await settledWithin(probe.happened, 250);
      probe.cancel();
      if (!cut) break;
    }
    const job = await queue.add('slow', {}, { jobId: 'watched' });
    const anyNews = events.next('watched', 10_000);
    const end = events.next('watched', 10_000, ENDING_EVENTS);
    const progressed = new Promise<void>((resolve) =>
      observer.on('progress', ({ jobId }) => {
        if (jobId === job.id) resolve();
      }),
    );
    await progressed;
    expect(await settledWithin(anyNews.happened, 2000)).toBe(true);
    expect(await settledWithin(end.happened, 300)).toBe(false);

    finish();
    expect(await settledWithin(end.happened, 5000)).toBe(true);
  });
});
