import {
  FunctionRegistry,
  functionRunningKey,
  type JobView,
  keyRunningKey,
  PARKED_MS,
  parkedJobsKey,
} from '@beamline/jobs';
import { describe, expect, it } from 'vitest';
import { exitOf, runningPid, spawnWorker, startWorker, until, useJobs } from './helpers.js';

const t = useJobs({ appendOnly: true });
const redis = t.redis;

/** Sleeps `ms` and returns when it started and ended, by the node's clock. */
const TIMED =
  'export default async ({ ms }, ctx) => { const start = Date.now(); await ctx.sleep(ms); return { start, end: Date.now() }; };';

interface Run {
  readonly start: number;
  readonly end: number;
}

const roomy = { WORKER_CONCURRENCY: '8', TENANT_MAX_RUNNING_PER_NODE: '8' };

function deploy(name: string, defaults: Record<string, unknown> = {}, tenant = 'default', source = TIMED) {
  return new FunctionRegistry(t.j.redis, t.j.keys).deploy(tenant, name, source, defaults);
}

async function allFinished(views: readonly JobView[], timeoutMs = 40_000): Promise<Run[]> {
  const done = await Promise.all(views.map((view) => t.j.finished(view.id, timeoutMs)));
  for (const view of done) expect(view.state).toBe('completed');
  return done.map((view) => view.result as Run);
}

/** The most runs that overlapped at any instant. */
function mostAtOnce(runs: readonly Run[]): number {
  const edges = runs.flatMap((run) => [
    { at: run.start, delta: 1 },
    { at: run.end, delta: -1 },
  ]);
  // An end and a start at the same millisecond: the end first (the slot was freed).
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.delta;
    most = Math.max(most, now);
  }
  return most;
}

describe('limits per function and per key (ADR 0016)', () => {
  it("a function's concurrency of 2: ten jobs never run more than two at once, and all complete", async () => {
    await deploy('two-at-once', { concurrency: 2 });
    await startWorker(redis.server.url, roomy);
    const views = await Promise.all(
      Array.from({ length: 10 }, () => t.j.submit({ function: 'two-at-once', input: { ms: 300 } })),
    );
    const runs = await allFinished(views);
    expect(mostAtOnce(runs)).toBe(2);
    expect(await t.j.redis.scard(functionRunningKey(t.j.keys, 'default', 'two-at-once'))).toBe(0);
  }, 60_000);

  it('a concurrency key with limit 1 holds across two worker nodes; the same key of another tenant does not count', async () => {
    await deploy('keyed');
    await deploy('keyed', {}, 'other');
    const keyed = { function: 'keyed', concurrencyKey: 'customer-42', concurrencyLimit: 1 };
    // The first node has one slot, busy with the first job: the next ones are taken by the second node.
    await startWorker(redis.server.url, { WORKER_CONCURRENCY: '1' });
    const first = await t.j.submit({ ...keyed, input: { ms: 1500 } });
    await runningPid(t.j, first.id);
    await startWorker(redis.server.url, roomy);
    const rest = await Promise.all(Array.from({ length: 5 }, () => t.j.submit({ ...keyed, input: { ms: 250 } })));
    const ours = [first, ...rest];
    const theirs = await t.j.submit({ ...keyed, input: { ms: 250 } }, 'other');
    const runs = await allFinished(ours);
    expect(mostAtOnce(runs)).toBe(1);
    // While the first node's only slot ran the first job, the second node took the others and put them back.
    const taken = await Promise.all(rest.map(async (v) => (await t.j.queue.getJob(v.id))?.attemptsStarted ?? 0));
    expect(Math.max(...taken)).toBeGreaterThan(1);
    // The other tenant's job with the same key string ran beside ours, not after them.
    const [other] = await allFinished([theirs]);
    const lastOfOurs = Math.max(...runs.map((run) => run.start));
    expect(other?.start).toBeLessThan(lastOfOurs);
  }, 60_000);

  it('a key without a limit takes the function’s keyConcurrency; without either it is refused', async () => {
    await deploy('key-default', { keyConcurrency: 3 });
    const view = await t.j.submit({ function: 'key-default', concurrencyKey: 'k', input: { ms: 1 } });
    const job = await t.j.queue.getJob(view.id);
    expect(job?.data.admission).toEqual({ key: 'k', keyLimit: 3 });
    await deploy('no-key-default');
    await expect(t.j.submit({ function: 'no-key-default', concurrencyKey: 'k' })).rejects.toMatchObject({
      field: 'concurrencyLimit',
    });
    await expect(t.j.submit({ function: 'key-default', concurrencyLimit: 2 })).rejects.toMatchObject({
      field: 'concurrencyLimit',
    });
  });

  it('a rate of 5 per second: 20 jobs start over at least ~3 s, none fails', async () => {
    await deploy('rated', { ratePerSecond: 5 });
    await startWorker(redis.server.url, roomy);
    const views = await Promise.all(
      Array.from({ length: 20 }, () => t.j.submit({ function: 'rated', input: { ms: 1 } })),
    );
    const runs = await allFinished(views, 60_000);
    const starts = runs.map((run) => run.start).sort((a, b) => a - b);
    const span = (starts.at(-1) as number) - (starts[0] as number);
    expect(span).toBeGreaterThanOrEqual(3000);
    const done = await Promise.all(views.map((v) => t.j.store.get(v.id)));
    for (const view of done) expect(view?.attemptsMade).toBe(1);
  }, 90_000);

  it('a paused function keeps its jobs parked while others run, each taken once; resumed, they run at once', async () => {
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await deploy('held');
    await deploy('free');
    await startWorker(redis.server.url, roomy);
    expect(await registry.setPaused('default', 'held', true)).toBe(true);
    expect(await registry.isPaused('default', 'held')).toBe(true);
    // The node has seen the pause within about a second.
    await allFinished([await t.j.submit({ function: 'free', input: { ms: 1 } })]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const held = await Promise.all(
      Array.from({ length: 40 }, () => t.j.submit({ function: 'held', input: { ms: 1 } })),
    );
    const free = await Promise.all(Array.from({ length: 3 }, () => t.j.submit({ function: 'free', input: { ms: 1 } })));
    await allFinished(free);
    const parked = parkedJobsKey(t.j.keys, 'default', 'held');
    await until(async () => (await t.j.redis.scard(parked)) === held.length);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const ids = new Set(held.map((view) => view.id));
    const events = await t.j.redis.xrange(t.j.store.queue.keys.events as string, '-', '+');
    const putBacks = events.filter(([, fields]) => {
      const at = (name: string) => fields[fields.indexOf(name) + 1];
      return at('event') === 'delayed' && ids.has(at('jobId') as string);
    });
    // Parked: taken once each and set aside, not taken and put back again and again.
    expect(putBacks).toHaveLength(held.length);
    for (const view of held) {
      const now = await t.j.store.get(view.id);
      expect(now?.state).toBe('delayed');
      expect(now?.attemptsMade).toBe(0);
    }
    const [cancelled, ...rest] = held as [JobView, ...JobView[]];
    expect(await t.j.store.cancel(cancelled.id, 'default')).toBe('removed');
    expect(await t.j.redis.sismember(parked, cancelled.id)).toBe(0);
    const resumedAt = Date.now();
    expect(await registry.setPaused('default', 'held', false)).toBe(true);
    await allFinished(rest);
    expect(await t.j.store.get(cancelled.id)).toBeUndefined();
    // Brought back by the resume, not by their parking running out.
    expect(Date.now() - resumedAt).toBeLessThan(PARKED_MS / 30);
    expect(await t.j.redis.exists(parked)).toBe(0);
    // Built-ins cannot be paused by a tenant: it has no such function of its own.
    expect(await registry.setPaused('default', 'sleep', true)).toBe(false);
  }, 60_000);

  it("another tenant's 100,000 paused functions cost this tenant's job starts no slow Redis command", async () => {
    await deploy('mine', {}, 'default', 'export default async () => 1;');
    const paused = `${t.j.keys.queue}bl:paused`;
    for (let from = 0; from < 100_000; from += 10_000) {
      const members = Array.from({ length: 10_000 }, (_, i) => `flooder/fn-${from + i}`);
      await t.j.redis.sadd(paused, ...members);
    }
    expect(await t.j.redis.scard(paused)).toBe(100_000);
    // The reading of a set this size takes tens of ms (83 ms in the review that found it).
    const begin = performance.now();
    await t.j.redis.smembers(paused);
    const wholeSetMs = performance.now() - begin;
    const slowUs = Math.max(1000, Math.round((wholeSetMs * 1000) / 4));
    await startWorker(redis.server.url, roomy);
    await t.j.redis.config('SET', 'slowlog-log-slower-than', String(slowUs));
    await t.j.redis.slowlog('RESET');
    try {
      // Jobs start over more than a second: the node looks at pauses again as they start.
      for (let i = 0; i < 4; i++) {
        await allFinished([await t.j.submit({ function: 'mine' })]);
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
      const slow = (await t.j.redis.slowlog('GET', 100)) as Array<[number, number, number, string[]]>;
      // Whatever else is slow on a loaded machine, nothing slow touched the paused set.
      expect(slow.filter((entry) => entry[3].includes(paused))).toEqual([]);
    } finally {
      await t.j.redis.config('SET', 'slowlog-log-slower-than', '10000');
    }
  }, 60_000);

  it("a paused function's parked jobs come back when it is deleted, and end as its runs do", async () => {
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await deploy('doomed');
    await startWorker(redis.server.url, roomy);
    await registry.setPaused('default', 'doomed', true);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const views = await Promise.all(
      Array.from({ length: 3 }, () => t.j.submit({ function: 'doomed', input: { ms: 1 } })),
    );
    const parked = parkedJobsKey(t.j.keys, 'default', 'doomed');
    await until(async () => (await t.j.redis.scard(parked)) === views.length);
    const deletedAt = Date.now();
    expect(await registry.delete('default', 'doomed')).toBe(true);
    // Jobs are pinned to the bundle they were submitted with: they run.
    const done = await Promise.all(views.map((view) => t.j.finished(view.id, 30_000)));
    for (const view of done) expect(view.state).toBe('completed');
    expect(Date.now() - deletedAt).toBeLessThan(PARKED_MS / 30);
  }, 60_000);

  it("jobs put back at their concurrency key's limit do not hold another tenant's jobs back", async () => {
    await deploy('keyed-hold');
    await deploy('quick', {}, 'other');
    await startWorker(redis.server.url, roomy);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    /** Submits `count` jobs of tenant other, 20 ms apart; resolves how long each waited to start (ms). */
    const waits = async (count: number) => {
      const views: JobView[] = [];
      for (let i = 0; i < count; i++) {
        views.push((await t.j.store.submit({ function: 'quick', input: { ms: 1 } }, 'other')).job);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const runs = await allFinished(views);
      return runs.map((run, i) => run.start - (views[i] as JobView).submittedAt);
    };
    await waits(10); // warm: sandboxes of tenant other started
    const alone = await waits(10);
    const key = { concurrencyKey: 'k', concurrencyLimit: 1 };
    await t.j.submit({ function: 'keyed-hold', input: { ms: 8_000 }, ...key });
    await t.j.store.submitMany(
      Array.from({ length: 1000 }, () => ({ function: 'keyed-hold', input: { ms: 1 }, ...key })),
    );
    // The key's jobs are taken, put back and added back by BullMQ again and again while it is held.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const beside = await waits(20);
    // A design that gave added-back jobs the head's round made these wait about as long as the key was held.
    expect(median(beside)).toBeLessThan(Math.max(10 * median(alone), 300));
  }, 60_000);

  it('a run retried after a backoff leaves its running sets at once; cancelled while it waits, it leaves nothing behind', async () => {
    await deploy('flaky', {}, 'default', 'export default async () => { throw new Error("not yet"); };');
    await startWorker(redis.server.url, roomy);
    const view = await t.j.submit({
      function: 'flaky',
      concurrencyKey: 'flaky-key',
      concurrencyLimit: 5,
      attempts: 2,
      backoff: { type: 'fixed', delayMs: 3_600_000 },
    });
    const slots = keyRunningKey(t.j.keys, 'default', 'flaky-key');
    const deadline = Date.now() + 15_000;
    while ((await t.j.store.get(view.id))?.state !== 'delayed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await t.j.store.get(view.id)).toMatchObject({ state: 'delayed', attemptsMade: 1 });
    // The retry step freed its slot (and would have woken a job waiting for it).
    expect(await t.j.redis.sismember(slots, view.id)).toBe(0);
    expect(await t.j.store.cancel(view.id, 'default')).toBe('removed');
    expect(await t.j.redis.exists(slots)).toBe(0);
  }, 30_000);

  it('an id in a running set whose job holds no lock holds no slot', async () => {
    await deploy('haunted');
    const slots = keyRunningKey(t.j.keys, 'default', 'haunted-key');
    await t.j.redis.sadd(slots, 'ghost-job');
    await startWorker(redis.server.url, roomy);
    const view = await t.j.submit({
      function: 'haunted',
      concurrencyKey: 'haunted-key',
      concurrencyLimit: 1,
      input: { ms: 1 },
    });
    await allFinished([view], 15_000);
    expect(await t.j.redis.sismember(slots, 'ghost-job')).toBe(0);
  }, 30_000);

  it("a node killed with SIGKILL while a job holds its key's slot: the slot is freed after stall recovery", async () => {
    await deploy('guarded');
    const lockEnv = { LOCK_DURATION_MS: '1000', STALLED_INTERVAL_MS: '500', ...roomy };
    const victim = await spawnWorker(redis.server.url, { ...lockEnv, NODE_ID: 'victim' });
    const keyed = { function: 'guarded', concurrencyKey: 'only-one', concurrencyLimit: 1 };
    const holder = await t.j.submit({ ...keyed, input: { ms: 3000 }, priority: 'low' });
    await runningPid(t.j, holder.id);
    const slots = keyRunningKey(t.j.keys, 'default', 'only-one');
    expect(await t.j.redis.smembers(slots)).toEqual([holder.id]);
    const next = await t.j.submit({ ...keyed, input: { ms: 3000 }, priority: 'high' });
    victim.kill('SIGKILL');
    expect(await exitOf(victim)).toBe(null);
    await startWorker(redis.server.url, lockEnv);
    // Once the dead node's lock lapses, its slot is free: the holder runs again and the other job
    // runs too, still one at a time.
    const runs = await allFinished([holder, next], 60_000);
    expect(mostAtOnce(runs)).toBe(1);
    expect(await t.j.redis.scard(slots)).toBe(0);
  }, 90_000);
});
