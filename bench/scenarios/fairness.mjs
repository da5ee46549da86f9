// Fair share between tenants (ADR 0017): how long tenant B's jobs wait to start on an idle node, and beside
// tenant A's backlog of 10,000 waiting jobs (issue 16's target: at most 2× idle); the same for B's
// delayed jobs once due (jobs BullMQ adds back: the fair clock); and what tenant A's paused
// function with 3,000 queued jobs costs Redis and B (ADR 0016: parked jobs), and as many of A's jobs
// waiting for a held concurrency key's slot (ADR 0016: slot waiters). One worker node,
// WORKER_CONCURRENCY 16 and a per-tenant cap of 12; every job a 20 ms sleep.
import { ControlPublisher, FunctionRegistry, JobStore, Keys, keyRunningKey, slotWaitersKey } from '@beamline/jobs';
import { RedisServer } from '@beamline/testing';
import { Redis } from 'ioredis';
import { beamlineWorker, builtins, quick, sleep, stop, summarize } from './common.mjs';

const BACKLOG = quick ? 3000 : 10_000;
const PROBES = quick ? 20 : 40;
const PROBE_EVERY_MS = 50;
/** A probe that has not started by then counts as waiting this long (the figure is then a lower bound). */
const GIVE_UP_MS = 60_000;
const JOB = { function: 'sleep', input: { ms: 20 }, attempts: 1 };
const DELAY_MS = 200;
const PAUSED_JOBS = quick ? 1000 : 3000;
const COMMANDS_WINDOW_MS = 3000;
/** How long A's jobs at a held key may take to be taken once each before Redis is counted. */
const KEYED_SETTLE_MS = 30_000;

/**
 * Submits PROBES jobs for tenant b, one every PROBE_EVERY_MS, and returns how long each waited to
 * start (ms) once it could: from submission, or from its due time for a job delayed `delayMs`.
 */
async function probeWaits(store, delayMs = 0) {
  const ids = [];
  const spec = delayMs > 0 ? { ...JOB, delayMs } : JOB;
  for (let i = 0; i < PROBES; i++) {
    ids.push((await store.submit(spec, 'b')).job.id);
    await sleep(PROBE_EVERY_MS);
  }
  const waits = new Map();
  const deadline = Date.now() + GIVE_UP_MS;
  while (waits.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (waits.has(id)) continue;
      const view = await store.get(id, 'b');
      if (view?.startedAt !== undefined) waits.set(id, Math.max(0, view.startedAt - view.submittedAt - delayMs));
    }
    await sleep(50);
  }
  return ids.map((id) => waits.get(id) ?? GIVE_UP_MS);
}

/** Redis commands per second over COMMANDS_WINDOW_MS (the server's own count; this reading's commands excluded). */
async function commandsPerSecond(redis) {
  const total = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
  const before = await total();
  await sleep(COMMANDS_WINDOW_MS);
  return ((await total()) - before - 1) / (COMMANDS_WINDOW_MS / 1000);
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
    const idleDelayed = await probeWaits(store, DELAY_MS);
    const idleCommands = await commandsPerSecond(redis);
    for (let start = 0; start < BACKLOG; start += 500) {
      await store.submitMany(
        Array.from({ length: Math.min(500, BACKLOG - start) }, () => JOB),
        'a',
      );
    }
    const loaded = await probeWaits(store);
    const loadedDelayed = await probeWaits(store, DELAY_MS);
    await store.queue.drain(true);
    await redis.del(keys.tenantOpen('a'));

    const registry = new FunctionRegistry(redis, keys);
    await registry.deploy('a', 'held', 'export default async () => null;');
    await registry.setPaused('a', 'held', true);
    await sleep(1200); // the node's copy of the paused set
    for (let start = 0; start < PAUSED_JOBS; start += 500) {
      await store.submitMany(
        Array.from({ length: Math.min(500, PAUSED_JOBS - start) }, () => ({ function: 'held', input: null })),
        'a',
      );
    }
    // Each is taken once and parked (at the pace of the node's retake budget), then costs nothing.
    const parked = `${keys.queue}bl:parked:a:held`;
    const parkedBy = Date.now() + GIVE_UP_MS;
    while ((await redis.scard(parked)) < PAUSED_JOBS && Date.now() < parkedBy) await sleep(100);
    const pausedCommands = await commandsPerSecond(redis);
    const besidePaused = await probeWaits(store);
    await store.queue.drain(true);

    // A's jobs at a concurrency key whose one slot is held: each is taken once and waits for the
    // slot (its finish would wake one), instead of being taken and put back every few hundred ms.
    const keyed = { function: 'sleep', attempts: 1, concurrencyKey: 'k', concurrencyLimit: 1 };
    const holder = (await store.submit({ ...keyed, input: { ms: 10 * 60_000 } }, 'a')).job.id;
    while ((await store.get(holder))?.state !== 'running') await sleep(20);
    for (let start = 0; start < PAUSED_JOBS; start += 500) {
      await store.submitMany(
        Array.from({ length: Math.min(500, PAUSED_JOBS - start) }, () => ({ ...keyed, input: { ms: 1 } })),
        'a',
      );
    }
    const waiters = slotWaitersKey(keys, keyRunningKey(keys, 'a', 'k'));
    const waitingBy = Date.now() + KEYED_SETTLE_MS;
    while ((await redis.zcard(waiters)) < PAUSED_JOBS && Date.now() < waitingBy) await sleep(100);
    const keyedCommands = await commandsPerSecond(redis);
    const besideKey = await probeWaits(store);
    await store.cancel(holder, 'a');
    const all = [...loaded, ...loadedDelayed, ...besidePaused, ...besideKey];
    const result = {
      backlog: BACKLOG,
      probes: PROBES,
      giveUpMs: GIVE_UP_MS,
      delayMs: DELAY_MS,
      pausedJobs: PAUSED_JOBS,
      idle: summarize(idle),
      loaded: summarize(loaded),
      idleDelayed: summarize(idleDelayed),
      loadedDelayed: summarize(loadedDelayed),
      besidePaused: summarize(besidePaused),
      idleCommandsPerSecond: idleCommands,
      pausedCommandsPerSecond: pausedCommands,
      besideKey: summarize(besideKey),
      keyedCommandsPerSecond: keyedCommands,
      notStarted: all.filter((ms) => ms >= GIVE_UP_MS).length,
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
