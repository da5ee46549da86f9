import { useRedisServer } from '@beamline/testing/vitest';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { type JobData, JobStore, Keys, QUEUE_NAME } from '../src/index.js';

export interface StoreHarness {
  readonly keys: Keys;
  /** The workers started in the running test. */
  readonly workers: Worker[];
  /** A connection to the file's private Redis, closed after the file. */
  connect(): Redis;
  /** A BullMQ Worker on a store connection (as worker nodes run it), named like a node; closed after each test. */
  worker(
    name: string,
    process: (job: Job<JobData>, token?: string) => Promise<unknown>,
    concurrency?: number,
  ): Worker<JobData>;
}

/** A store test file's private Redis under `prefix`, its connections and its workers. */
export function useStoreHarness(prefix: string): StoreHarness {
  const redisServer = useRedisServer();
  const keys = new Keys(prefix);
  const workers: Worker[] = [];
  const connections: Redis[] = [];
  const connect = () => {
    const connection = new Redis(redisServer.server.url, { maxRetriesPerRequest: null });
    connections.push(connection);
    return connection;
  };
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(true)));
  });
  afterAll(() => {
    for (const connection of connections) connection.disconnect();
  });
  return {
    keys,
    workers,
    connect,
    worker(name, process, concurrency = 4) {
      const w = new Worker<JobData>(QUEUE_NAME, process, {
        connection: JobStore.connection(connect()),
        prefix: keys.prefix,
        name,
        concurrency,
      });
      workers.push(w as Worker);
      return w;
    },
  };
}

/** Reads until `done` holds or `ms` pass; returns the last reading. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
