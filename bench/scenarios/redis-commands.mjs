// Redis commands per job: a MONITOR connection to a private Redis counts what the clients send
// during a window of N jobs, divided by N, by command name. Commands Lua scripts run (MONITOR marks
// them `[0 lua]`) are counted apart from those the clients sent, and charged to the connection of
// the EVAL/EVALSHA that ran them. The bench's own connection (pause, resume, polling) and the
// MONITOR connection are left out.
// Submission: through the Beamline API (one job per request, and batches) against the minimal
// Hono + Queue.add app of the API bench; running no-op jobs: a Beamline worker node (its own
// process, as in scenario 1) against a plain BullMQ Worker.
// Run alone: `node bench/scenarios/redis-commands.mjs [--quick]` (after `npm run build`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { freePort, RedisServer } from '@beamline/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { beamlineWorker, builtins, bullmqWorker, launch, queuePrefix, quick, root, sleep, stop } from './common.mjs';

const JOBS = quick ? 200 : 1000;
const BATCH = 500;
const IN_FLIGHT = 16;
const PREFIX = 'rc';
const KEY = 'bench-key-0123456789abcdef';
const JOB = { function: 'echo', input: { n: 1 } };

/** Starts counting what Redis executes; `stop()` returns totals and per-name counts, per job. */
async function monitor(redisUrl, excludedPorts) {
  const { hostname, port } = new URL(redisUrl);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const excluded = new Set([...excludedPorts, socket.localPort].map((p) => `127.0.0.1:${p}`));
  const counts = { client: new Map(), scripts: new Map() };
  let rest = '';
  let lastSource = '';
  let ok;
  const started = new Promise((resolve) => {
    ok = resolve;
  });
  socket.on('data', (chunk) => {
    const lines = (rest + chunk.toString('latin1')).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '+OK') ok();
      const match = /^\+\d+\.\d+ \[\d+ (\S+)\] "([^"]*)"/.exec(line);
      if (!match) continue;
      const [, source, name] = match;
      const lua = source === 'lua';
      if (!lua) lastSource = source;
      if (excluded.has(lastSource)) continue;
      const map = lua ? counts.scripts : counts.client;
      const key = name.toUpperCase();
      map.set(key, (map.get(key) ?? 0) + 1);
    }
  });
  socket.write('MONITOR\r\n');
  await started;
  return {
    async stop(jobs) {
      await sleep(50);
      socket.destroy();
      const perJob = (map) => ({
        perJob: [...map.values()].reduce((a, b) => a + b, 0) / jobs,
        top: [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, n]) => [name, n / jobs]),
      });
      return { jobs, client: perJob(counts.client), scripts: perJob(counts.scripts) };
    },
  };
}

/** N submissions through an HTTP server (16 in flight), counted. */
async function submissions(redisUrl, url, batch) {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const body = JSON.stringify(batch > 1 ? { jobs: Array(batch).fill(JOB) } : JOB);
  const path = batch > 1 ? '/v1/jobs/batch' : '/v1/jobs';
  const post = async () => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers, body });
    if (response.status !== 202) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  await post(); // one outside the window: lazy first-use work (script loading) is not per job
  await sleep(300);
  const window = await monitor(redisUrl, []);
  const requests = Math.max(1, Math.ceil(JOBS / batch));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, requests) }, async () => {
      while (next < requests) {
        next++;
        await post();
      }
    }),
  );
  return window.stop(requests * batch);
}

async function throughServer(system, batch) {
  const redis = await RedisServer.start();
  const port = await freePort();
  await builtins(redis.url, PREFIX);
  const server =
    system === 'beamline'
      ? await launch(
          [new URL('apps/api/dist/main.js', root).pathname],
          {
            REDIS_URL: redis.url,
            PORT: String(port),
            HOST: '127.0.0.1',
            BEAMLINE_PREFIX: PREFIX,
            BEAMLINE_API_KEYS: `${KEY}:bench`,
            LOG_LEVEL: 'info',
            TENANT_BACKLOG_CAP: '100000000',
          },
          /API listening/,
        )
      : await launch([HONO_BASELINE.pathname, redis.url, String(port), PREFIX], {}, /listening/);
  try {
    return await submissions(redis.url, `http://127.0.0.1:${port}`, batch);
  } finally {
    await stop(server);
    await redis.stop();
  }
}

/** N no-op jobs through one consumer process: queued while paused, counted from resume to the last completed. */
async function throughWorker(system) {
  const redis = await RedisServer.start();
  const control = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection: control, prefix: queuePrefix(PREFIX) });
  const data = await builtins(redis.url, PREFIX);
  await queue.pause();
  await queue.addBulk(
    Array.from({ length: JOBS }, (_, i) => ({ name: 'echo', data: data('echo', i), opts: { priority: 2 } })),
  );
  const consumer =
    system === 'beamline'
      ? await beamlineWorker(redis.url, PREFIX, { WORKER_CONCURRENCY: String(IN_FLIGHT) })
      : await bullmqWorker(redis.url, PREFIX, 'plain', IN_FLIGHT);
  try {
    await sleep(500);
    const window = await monitor(redis.url, [control.stream.localPort]);
    await queue.resume();
    while ((await control.zcard(`${queuePrefix(PREFIX)}:jobs:completed`)) < JOBS) await sleep(10);
    return await window.stop(JOBS);
  } finally {
    await stop(consumer);
    await queue.close();
    control.disconnect();
    await redis.stop();
  }
}

const HONO_BASELINE = new URL('apps/api/dist-bench/bench/hono-baseline.js', root);

export async function redisCommands() {
  if (!existsSync(HONO_BASELINE)) {
    const tsc = spawnSync('npx', ['tsc', '-p', 'apps/api/tsconfig.bench.json'], { cwd: root, stdio: 'inherit' });
    if (tsc.status !== 0) throw new Error('could not compile the API bench (hono-baseline.ts)');
  }
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg() };
  const results = {
    apiOne: await throughServer('beamline', 1),
    honoOne: await throughServer('hono', 1),
    apiBatch: await throughServer('beamline', BATCH),
    honoBatch: await throughServer('hono', BATCH),
    beamlineWorker: await throughWorker('beamline'),
    bullmqWorker: await throughWorker('plain'),
  };
  for (const [name, r] of Object.entries(results)) {
    const top = (list) =>
      list
        .slice(0, 8)
        .map(([command, n]) => `${command} ${n >= 0.01 ? n.toFixed(2) : n.toPrecision(1)}`)
        .join(', ');
    console.log(
      `redis commands per job, ${name} (${r.jobs} jobs): client ${r.client.perJob.toFixed(2)} [${top(r.client.top)}]; inside scripts ${r.scripts.perJob.toFixed(2)} [${top(r.scripts.top)}]`,
    );
  }
  return { ...results, machine };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await redisCommands();
