// Fair share between tenants (ADR 0017): how long tenant B's jobs wait to start on an idle node, and beside
// tenant A's backlog of 10,000 waiting jobs (issue 16's target: at most 2× idle). One worker node,
// WORKER_CONCURRENCY 16 and the default per-tenant cap (3/4 of it); every job a 20 ms sleep.
import { ControlPublisher, FunctionRegistry, JobStore, Keys } from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Redis } from 'ioredis';
import { beamlineWorker, builtins, quick, sleep, stop, summarize } from './common.mjs';

const BACKLOG = quick ? 3000 : 10_000;
const PROBES = quick ? 20 : 40;
const PROBE_EVERY_MS = 50;
/** A probe that has not started by then counts as waiting this long (the figure is then a lower bound). */
const GIVE_UP_MS = 60_000;
const JOB = { function: 'sleep', input: { ms: 20 }, attempts: 1 };

/** Submits PROBES jobs for tenant b, one every PROBE_EVERY_MS, and returns how long each waited to start (ms). */
async function probeWaits(store) {
  const ids = [];
  for (let i = 0; i < PROBES; i++) {
    ids.push((await store.submit(JOB, 'b')).job.id);
    await sleep(PROBE_EVERY_MS);
  }
  const waits = new Map();
  const deadline = Date.now() + GIVE_UP_MS;
  while (waits.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (waits.has(id)) continue;
      const view = await store.get(id, 'b');
      if (view?.startedAt !== undefined) waits.set(id, view.startedAt - view.submittedAt);
    }
    await sleep(50);
  }
  return ids.map((id) => waits.get(id) ?? GIVE_UP_MS);
}

export async function fairness() {
  const server = await RedisServer.start();
  const prefix = 'fair';
  await builtins(server.url, prefix);
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const keys = new Keys(prefix);
  const store = new JobStore(redis, keys, new FunctionRegistry(redis, keys), new ControlPublisher(redis, keys), {
    backlogCap: BACKLOG * 2,
  });
  const worker = await beamlineWorker(server.url, prefix, {
    WORKER_CONCURRENCY: '16',
    TENANT_MAX_RUNNING_PER_NODE: '12',
  });
  try {
    await probeWaits(store); // warm-up: sandboxes started
    const idle = await probeWaits(store);
    for (let start = 0; start < BACKLOG; start += 500) {
      await store.submitMany(
        Array.from({ length: Math.min(500, BACKLOG - start) }, () => JOB),
        'a',
      );
    }
    const loaded = await probeWaits(store);
    const result = {
      backlog: BACKLOG,
      probes: PROBES,
      giveUpMs: GIVE_UP_MS,
      idle: summarize(idle),
      loaded: summarize(loaded),
      notStarted: loaded.filter((ms) => ms >= GIVE_UP_MS).length,
    };
    console.log('fairness:', JSON.stringify(result));
    return result;
  } finally {
    await stop(worker);
    await store.close();
    redis.disconnect();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await fairness();
