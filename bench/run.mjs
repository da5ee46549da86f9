#!/usr/bin/env node
// `npm run bench [-- --quick]`: every benchmark of the project, Beamline beside its baselines in
// the same run, on private Redis servers; writes docs/benchmarks.md and bench/results.json.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { cancelThroughApi, sandboxedMemory } from './scenarios/cancel-and-memory.mjs';
import { cores, quick, root } from './scenarios/common.mjs';
import { fairness } from './scenarios/fairness.mjs';
import { hogs } from './scenarios/hogs.mjs';
import { redisCommands } from './scenarios/redis-commands.mjs';
import { throughput } from './scenarios/throughput.mjs';

const started = Date.now();
const loadAtStart = loadavg();
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  ...(quick ? { BENCH_RUNS: '2', BENCH_JOBS: '5000' } : {}),
};
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
};

console.log('Building…');
run('npm', ['run', 'build', '--silent']);
const packageArgs = quick ? ['--', '--quick'] : [];
for (const workspace of ['@beamline/runtime', '@beamline/worker', '@beamline/api']) {
  console.log(`\n── ${workspace} ──`);
  run('npm', ['run', 'bench', '--silent', '-w', workspace, ...packageArgs]);
}
console.log('\n── scenarios ──');
const scenario = {
  throughput: await throughput(),
  hogs: await hogs(),
  cancel: await cancelThroughApi(),
  memory: await sandboxedMemory(),
  commands: await redisCommands(),
  fairness: await fairness(),
};

const json = (path) => JSON.parse(readFileSync(new URL(path, root), 'utf8'));
const green = json('libs/runtime/bench/results.json');
const isolated = json('libs/runtime/bench/isolated-results.json');
const worker = json('apps/worker/bench/results.json');
const api = json('apps/api/bench/results.json');
const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[2];

const fmt = (n, digits = 1) =>
  n === undefined || Number.isNaN(n) ? '—' : n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(digits);
const spread = (s, unit = '') => `${fmt(s.median)}${unit} (${fmt(s.min)}–${fmt(s.max)})`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rowOf = (rows, name) => rows.find((r) => r.name.startsWith(name));
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
const met = (ok) => (ok ? 'yes' : '**no**');
const summarizeRates = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: median(sorted), min: sorted[0], max: sorted.at(-1), runs: sorted.length };
};
/** What bounds the Beamline worker's no-op throughput, from its main thread's profile and the CPU shares. */
const BOUND_NOTE = (busy, share, prof) => {
  const own = share('consumerOwnS');
  const top = prof.top
    .slice(0, 4)
    .map((r) => `\`${r.function}\` ${(r.share * 100).toFixed(1)}% (from ${r.caller})`)
    .join('; ');
  const cpu = `worker process ${own.toFixed(2)} CPU-s per s, its sandboxes ${share('consumerChildrenS').toFixed(2)}, all of the bench ${busy.toFixed(2)} of ${cores} cores`;
  if (prof.idleShare < 0.15)
    return `What bounds it: the worker process's single main thread, which dispatches every job — it was idle only ${(prof.idleShare * 100).toFixed(1)}% of the measured window (${cpu}; on a shared machine the rest of its non-idle time is waiting for a core), and its most self time goes to per-job system calls (a sampled write to a sandbox or to Redis also counts the time the main thread loses its core to the process it woke): ${top}.`;
  if (busy >= 0.85 * cores)
    return `What bounds it: CPU — the cores are busy (${cpu}); in the worker process the most self time goes to ${top}.`;
  return `What bounds it: neither the cores nor the worker's main thread (idle ${(prof.idleShare * 100).toFixed(1)}%) is saturated (${cpu}), so round-trip latency (Redis and the sandbox channel) bounds it; the most self time goes to ${top}.`;
};

const lines = [];
const table = (title, header, rows) => {
  lines.push(
    `## ${title}`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  );
};

const tp = scenario.throughput;
table(
  '1. Throughput: no-op jobs per second (concurrency 16 per process)',
  [
    'consumer processes',
    'Beamline (every job isolated)',
    'plain BullMQ Worker',
    'sandboxed BullMQ Worker (threads)',
    'Beamline / plain',
    'Beamline / sandboxed',
    'targets (1 process)',
  ],
  [1, 2, 4].map((k) => [
    String(k),
    spread(tp[`beamline-${k}`]),
    spread(tp[`plain-${k}`]),
    spread(tp[`threads-${k}`]),
    ratio(tp[`beamline-${k}`].median, tp[`plain-${k}`].median),
    ratio(tp[`beamline-${k}`].median, tp[`threads-${k}`].median),
    k === 1
      ? `≥ 0.8× plain: ${met(tp['beamline-1'].median >= 0.8 * tp['plain-1'].median)}; ≥ 2.5× sandboxed: ${met(tp['beamline-1'].median >= 2.5 * tp['threads-1'].median)}`
      : '—',
  ]),
);

const machineNote = (m, what) =>
  `Machine: ${m.cores} cores (${m.cpu}), Node ${m.node}; load average (1, 5, 15 min) ${m.loadavg.map((l) => l.toFixed(2)).join(', ')} at the start of ${what} (the machine is shared).`;
const apiRate = (key) => summarizeRates(api.rates[key]);
/** Ratio of the medians, and the range of the ratios of the runs (each Beamline run beside the baseline's next). */
const ratioRuns = (a, b) => {
  const perRun = api.rates[a].map((r, i) => r / api.rates[b][i]);
  return `${ratio(apiRate(a).median, apiRate(b).median)} (${Math.min(...perRun).toFixed(2)}–${Math.max(...perRun).toFixed(2)})`;
};
const cpuPerJob = (key) => {
  const us = (field) => median(api.samples[key].map((sample) => sample[field]));
  return `${fmt(us('serverCpuUs'))} / ${fmt(us('redisCpuUs'))} µs`;
};
const failures = (key) => api.samples[key].reduce((sum, sample) => sum + sample.non2xx + sample.errors, 0);
table(
  `2. Submission through the REST API (autocannon in its own process, ${api.machine.connections} connections, no pipelining, ${api.machine.runs} runs of ${api.machine.seconds} s after ${api.machine.warmupSeconds} s warm-up, each on a fresh Redis, alternating)`,
  [
    'measure',
    'Beamline API',
    'Hono + zod + Queue.add',
    'BullMQ direct, 16 in flight',
    'bare Hono GET /healthz',
    'Beamline / Hono + Queue.add',
    'Beamline / direct',
    'target (vs Hono + BullMQ)',
    'met',
  ],
  [
    ['one job per request', 'api', 'hono', 'add', 0.8],
    [`batches of ${api.machine.batch ?? 500}`, 'apiBatch', 'honoBatch', 'addBulk', 0.85],
  ].map(([label, beamline, hono, direct, target]) => [
    label,
    `${spread(apiRate(beamline))} jobs/s`,
    `${spread(apiRate(hono))} jobs/s`,
    `${spread(apiRate(direct))} jobs/s`,
    beamline === 'api' ? `${spread(apiRate('healthz'))} req/s` : '—',
    ratioRuns(beamline, hono),
    ratioRuns(beamline, direct),
    `≥ ${target}×`,
    met(apiRate(beamline).median >= target * apiRate(hono).median),
  ]),
);
const percentileOf = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const submitToResult = api.latenciesMs.oneRequest
  ? [
      ['one POST with `Prefer: wait=10`', api.latenciesMs.oneRequest],
      ['POST, then GET /v1/jobs/{id}/wait', api.latenciesMs.twoRequests],
    ]
  : [['POST, then GET /v1/jobs/{id}/wait', api.latenciesMs]];
table(
  `Submit → result of a no-op job on an idle worker node (${submitToResult[0][1].length} jobs one after another, Node's fetch as the client, API and worker each in its own process)`,
  ['how', 'p50', 'p99', 'target', 'met'],
  submitToResult.map(([how, values]) => {
    const [p50, p99] = [percentileOf(values, 50), percentileOf(values, 99)];
    return [how, `${fmt(p50)} ms`, `${fmt(p99)} ms`, 'p50 ≤ 3 ms, p99 ≤ 10 ms', met(p50 <= 3 && p99 <= 10)];
  }),
);
lines.push(
  `CPU per job, server process / Redis (median; for BullMQ direct the process calling Queue.add): Beamline API ${cpuPerJob('api')}, Hono + Queue.add ${cpuPerJob('hono')}, Queue.add direct ${cpuPerJob('add')}, bare healthz ${cpuPerJob('healthz')} per request; batches of 500: Beamline API ${cpuPerJob('apiBatch')}, Hono + addBulk ${cpuPerJob('honoBatch')}, addBulk direct ${cpuPerJob('addBulk')}. Only 202 responses count as jobs; non-2xx responses and errors over all runs: Beamline ${failures('api')} (batches ${failures('apiBatch')}), Hono + Queue.add ${failures('hono')} (batches ${failures('honoBatch')}). Ratios: of the medians, and in brackets the range of the runs' ratios.`,
  '',
  machineNote(api.machine, 'the API bench'),
  '',
);

const rc = scenario.commands;
const perJob = (r) => r.client.perJob + r.scripts.perJob;
const count = (n) => (n >= 0.01 || n === 0 ? n.toFixed(2) : n.toPrecision(1));
const topOf = (list) =>
  list
    .slice(0, 5)
    .map(([name, n]) => `${name} ${count(n)}`)
    .join(', ') || '—';
table(
  `Redis commands per job (MONITOR on a private Redis, ${rc.apiOne.jobs} jobs per window; client commands apart from those Lua scripts run)`,
  [
    'path',
    'client commands / job',
    'inside scripts / job',
    'total / job',
    'top client commands',
    'top inside scripts',
    'total vs baseline',
  ],
  [
    ['Beamline API, POST /v1/jobs', rc.apiOne, rc.honoOne],
    ['Hono + zod + Queue.add (baseline)', rc.honoOne],
    ['Beamline API, POST /v1/jobs/batch of 500', rc.apiBatch, rc.honoBatch],
    ['Hono + zod + addBulk (baseline)', rc.honoBatch],
    ['Beamline worker node, no-op job', rc.beamlineWorker, rc.bullmqWorker],
    ['plain BullMQ Worker, no-op job (baseline)', rc.bullmqWorker],
  ].map(([label, r, baseline]) => [
    label,
    count(r.client.perJob),
    count(r.scripts.perJob),
    count(perJob(r)),
    topOf(r.client.top),
    topOf(r.scripts.top),
    baseline ? ratio(perJob(r), perJob(baseline)) : '—',
  ]),
);
lines.push(
  "Submissions come 16 at a time over HTTP (the first request outside the window); the worker rows count from resuming a queue of that many waiting jobs to the last one completed, one consumer process at concurrency 16. The bench's own connection and the MONITOR connection are left out.",
  '',
  machineNote(rc.machine, 'the scenario'),
  '',
);

table(
  `3. Short 5 ms CPU jobs every 100 ms beside ${4 * cores} CPU hogs (${quick ? 4 : 10} s each)`,
  ['system', 'idle p50 / p99', 'beside hogs p50 / p99', 'not done within the window', 'p99 ratio'],
  Object.entries(scenario.hogs)
    .filter(([k]) => k !== 'priorities')
    .map(([label, r]) => [
      label,
      `${fmt(r.idle.median)} / ${fmt(r.idle.p99)} ms`,
      `${fmt(r.loaded.median)} / ${fmt(r.loaded.p99)} ms`,
      `${r.loaded.timedOut} of ${r.loaded.submitted}`,
      ratio(r.loaded.p99, r.idle.p99),
    ]),
);

const prio = scenario.hogs.priorities;
const isoRows = isolated.rows;
const lowHogs = rowOf(isoRows, 'normal CPU job beside 4 × cores low');
table(
  '4. Priorities',
  ['measure', 'figure', 'baseline, same run', 'ratio', 'target', 'met'],
  [
    [
      'high-priority 300 ms CPU job through a worker, beside low-priority hogs (run time)',
      `${fmt(prio.besideLowHogs.median)} ms`,
      `alone: ${fmt(prio.alone.median)} ms`,
      ratio(prio.besideLowHogs.median, prio.alone.median),
      '≤ 1.2×',
      met(prio.besideLowHogs.median <= 1.2 * prio.alone.median),
    ],
    [
      'normal CPU job beside 4 × cores low-priority hogs (runtime)',
      `${fmt(lowHogs.beamline.median)} ms`,
      `alone: ${fmt(lowHogs.baseline.median)} ms`,
      ratio(lowHogs.beamline.median, lowHogs.baseline.median),
      '≤ 1.2×',
      met(lowHogs.beamline.median <= 1.2 * lowHogs.baseline.median),
    ],
  ],
);

const gone = rowOf(isoRows, 'timeout → process gone');
const cancelLatencies = worker.cancelLatenciesMs;
const p = (values, q) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((q / 100) * values.length) - 1)];
table(
  '5. Runaway and cancel',
  ['measure', 'p50', 'p99', 'baseline, same run', 'target', 'met'],
  [
    [
      'timeout → busy-looping process gone (runtime)',
      `${fmt(gone.beamline.median, 2)} ms`,
      `max ${fmt(gone.beamline.max, 2)} ms`,
      `worker.terminate() ${fmt(gone.baseline.median, 2)} ms`,
      '≤ 50 ms',
      met(gone.beamline.max <= 50),
    ],
    [
      'cancel → running job gone, through the control channel',
      `${fmt(p(cancelLatencies, 50))} ms`,
      `${fmt(p(cancelLatencies, 99))} ms`,
      '—',
      'p99 ≤ 100 ms',
      met(p(cancelLatencies, 99) <= 100),
    ],
    [
      'DELETE /v1/jobs/{id} → the job seen ended through the API',
      `${fmt(scenario.cancel.median)} ms`,
      `${fmt(scenario.cancel.p99)} ms`,
      '—',
      '—',
      '—',
    ],
  ],
);

const pss = rowOf(isoRows, 'PSS per live isolated process');
const mb = (bytes) => `${(bytes / 1048576).toFixed(2)} MB`;
table(
  '6. Memory per live job (PSS of the process tree: node or worker, and its sandboxes, threads or child processes)',
  ['what', 'PSS per live job', 'target', 'met'],
  [
    [
      'Beamline isolated process, one sandbox process each (runtime bench, 20 alive, median)',
      `${fmt(pss.beamline.median, 2)} MB`,
      '≤ 10 MB',
      met(pss.beamline.median <= 10),
    ],
    ['bare worker thread (runtime bench, the design before sandboxes)', `${fmt(pss.baseline.median, 2)} MB`, '—', '—'],
    ['Beamline worker node, 20 sleeping jobs', mb(scenario.memory.beamline), '—', '—'],
    ['BullMQ sandboxed job, worker threads', mb(scenario.memory.threads), '—', '—'],
    ['BullMQ sandboxed job, child processes', mb(scenario.memory.processes), '—', '—'],
  ],
);

table(
  '7. Green processes',
  ['measure', 'Beamline', 'plain JavaScript, same run', 'ratio', 'target', 'met'],
  green.rows.map((r) => [
    r.name,
    `${fmt(r.beamline.median, 2)} ${r.unit}`,
    `${fmt(r.baseline.median, 2)} ${r.unit} (${r.baselineName})`,
    ratio(r.beamline.median, r.baseline.median),
    r.target,
    met(r.met),
  ]),
);

const cold = rowOf(isoRows, 'cold start, new sandbox');
const prestarted = rowOf(isoRows, 'cold start, pre-started sandbox');
const warm = rowOf(isoRows, 'warm invocation');
table(
  '8. Cold and warm start of a function',
  ['measure', 'Beamline', 'baseline, same run', 'ratio'],
  [
    [
      'cold start, new sandbox',
      `${fmt(cold.beamline.median)} ms`,
      `new Worker → first answer ${fmt(cold.baseline.median)} ms`,
      ratio(cold.beamline.median, cold.baseline.median),
    ],
    [
      'cold start, pre-started sandbox',
      `${fmt(prestarted.beamline.median, 2)} ms`,
      `new Worker → first answer ${fmt(prestarted.baseline.median)} ms`,
      ratio(prestarted.beamline.median, prestarted.baseline.median),
    ],
    [
      'warm invocation (spawn, run, exit, result)',
      `${fmt(warm.beamline.median)} µs`,
      `bare postMessage round trip ${fmt(warm.baseline.median)} µs`,
      ratio(warm.beamline.median, warm.baseline.median),
    ],
  ],
);

// Issue 11: the chosen design (one sandbox OS process per isolated process, ADR 0009) beside
// the thread design it replaced, every figure from this run.
const range = (s, digits = 1) => `${fmt(s.min, digits)}–${fmt(s.max, digits)}`;
const tp1 = { beamline: tp['beamline-1'], plain: tp['plain-1'], threads: tp['threads-1'] };
table(
  'Sandbox processes vs threads (issue 11)',
  ['measure', 'sandbox processes', 'thread baseline, same run', 'ratio', 'spread (sandbox; threads)'],
  [
    [
      'warm dispatch: no-op invocation on a warm environment',
      `${fmt(warm.beamline.median)} µs`,
      `${fmt(warm.baseline.median)} µs (bare worker postMessage round trip)`,
      ratio(warm.beamline.median, warm.baseline.median),
      `${range(warm.beamline)}; ${range(warm.baseline)} µs`,
    ],
    [
      'cold start: function never seen, new environment, to first result',
      `${fmt(cold.beamline.median)} ms`,
      `${fmt(cold.baseline.median)} ms (new Worker → first answer)`,
      ratio(cold.beamline.median, cold.baseline.median),
      `${range(cold.beamline)}; ${range(cold.baseline)} ms`,
    ],
    [
      `memory per live job, PSS (${pss.beamline.runs ?? ''} runs of 20 alive)`,
      `${fmt(pss.beamline.median, 2)} MB (node + sandboxes)`,
      `${fmt(pss.baseline.median, 2)} MB (bare worker thread)`,
      ratio(pss.beamline.median, pss.baseline.median),
      `${range(pss.beamline, 2)}; ${range(pss.baseline, 2)} MB`,
    ],
    [
      'no-op throughput, 1 worker process, concurrency 16',
      `${fmt(tp1.beamline.median)} jobs/s (Beamline worker)`,
      `${fmt(tp1.threads.median)} jobs/s (sandboxed BullMQ Worker, worker threads)`,
      ratio(tp1.beamline.median, tp1.threads.median),
      `${range(tp1.beamline)}; ${range(tp1.threads)} jobs/s`,
    ],
  ],
);
lines.push(
  'The thread baselines are what the thread design (ADR 0005) was built on, measured in this run: a bare worker thread (runtime bench) and, for throughput, the worker-thread sandbox at the same concurrency; ratios are sandbox / thread. Cold start, warm dispatch and PSS are runtime figures without Redis (libs/runtime/bench/isolated.ts).',
  '',
);
const workerRate = (key) => summarizeRates(worker.rates[key]);
lines.push(
  'No-op throughput of the Beamline worker (every job in a sandbox process; per-tenant cap per node = concurrency) against BullMQ, same run:',
  '',
  '| consumer | Beamline | plain BullMQ Worker | sandboxed BullMQ Worker (threads) | Beamline / plain | Beamline / sandboxed |',
  '| --- | --- | --- | --- | --- | --- |',
  `| worker process (scenario 1, 1 process, ${tp1.beamline.runs} runs) | ${spread(tp1.beamline)} | ${spread(tp1.plain)} | ${spread(tp1.threads)} | ${ratio(tp1.beamline.median, tp1.plain.median)} | ${ratio(tp1.beamline.median, tp1.threads.median)} |`,
  `| worker node in the bench process (apps/worker bench, ${worker.rates.beamline.length} runs) | ${spread(workerRate('beamline'))} | ${spread(workerRate('plain'))} | ${spread(workerRate('sandboxed'))} | ${ratio(workerRate('beamline').median, workerRate('plain').median)} | ${ratio(workerRate('beamline').median, workerRate('sandboxed').median)} |`,
  `| the runtime alone: scheduler and sandboxes, 16 in flight, no Redis, no BullMQ (apps/worker bench, same runs) | ${spread(workerRate('runtimeAlone'))} | ${spread(workerRate('plain'))} | ${spread(workerRate('sandboxed'))} | ${ratio(workerRate('runtimeAlone').median, workerRate('plain').median)} | ${ratio(workerRate('runtimeAlone').median, workerRate('sandboxed').median)} |`,
  ...(worker.rates.bullmqRuntime
    ? [
        `| a plain BullMQ Worker whose processor only runs each job through the runtime: BullMQ and the runtime together, no worker layer (apps/worker bench, same runs) | ${spread(workerRate('bullmqRuntime'))} | ${spread(workerRate('plain'))} | ${spread(workerRate('sandboxed'))} | ${ratio(workerRate('bullmqRuntime').median, workerRate('plain').median)} | ${ratio(workerRate('bullmqRuntime').median, workerRate('sandboxed').median)} |`,
      ]
    : []),
  ...(worker.rates.bullmqChildren
    ? [
        `| floor of a process per job: a plain BullMQ Worker whose processor writes each job's data as a line to one of 16 child processes, one job each at a time, and reads it back (no runtime, no limits; apps/worker bench, same runs) | ${spread(workerRate('bullmqChildren'))} | ${spread(workerRate('plain'))} | ${spread(workerRate('sandboxed'))} | ${ratio(workerRate('bullmqChildren').median, workerRate('plain').median)} | ${ratio(workerRate('bullmqChildren').median, workerRate('sandboxed').median)} |`,
        `| the same through ${worker.machine.cores} child processes (one per core), jobs queued to each, so that a child finds its next job already written (apps/worker bench, same runs) | ${spread(workerRate('bullmqChildrenQueued'))} | ${spread(workerRate('plain'))} | ${spread(workerRate('sandboxed'))} | ${ratio(workerRate('bullmqChildrenQueued').median, workerRate('plain').median)} | ${ratio(workerRate('bullmqChildrenQueued').median, workerRate('sandboxed').median)} |`,
      ]
    : []),
  '',
  "The runtime-alone row bounds the worker: a node cannot take jobs faster than its runtime dispatches no-op processes to sandboxes and back, before any Redis or BullMQ cost. The BullMQ-and-runtime row is BullMQ and the runtime together: what is left between it and the worker node is the node's own layer (job runner, admission, supervision, output, metrics). The two floor rows hold no Beamline code: with one job at a time per process, as a sandbox runs them, every job wakes a sleeping process, and that alone stays far under the 0.8× target; a process that finds its next job already written is not woken, and the same writes run about twice as fast, still short of it (apps/worker README).",
  '',
);
const scale = (key) => summarizeRates(worker.scaling[key]);
table(
  `Worker scaling: no-op jobs per second with 1, 2 and 4 consumer processes (apps/worker bench, concurrency ${worker.machine.concurrency} each, ${worker.machine.jobs} jobs a run, ${worker.machine.runs} runs, alternating)`,
  [
    'consumer processes',
    'Beamline worker nodes',
    '× 1 process',
    'plain BullMQ Workers',
    '× 1 process',
    'Beamline / plain',
  ],
  [1, 2, 4].map((k) => [
    String(k),
    spread(scale(`beamline-${k}`)),
    ratio(scale(`beamline-${k}`).median, scale('beamline-1').median),
    spread(scale(`plain-${k}`)),
    ratio(scale(`plain-${k}`).median, scale('plain-1').median),
    ratio(scale(`beamline-${k}`).median, scale(`plain-${k}`).median),
  ]),
);
lines.push(
  `Each consumer is its own OS process on the same private Redis (Beamline: WorkerNode.start as in the bench process; plain: a BullMQ Worker with an in-process no-op); each first runs 500 jobs (start-up outside the window), then the queue is filled while paused and the clock runs from resume to the last job completed. Scenario 1 measures the same with the worker's own binary. ${machineNote(worker.machine, 'the worker bench')}`,
  '',
);
const cpu1 = tp.cpu?.['beamline-1'] ?? [];
const prof = tp.profile;
if (cpu1.length && prof) {
  const sum = (key) => cpu1.reduce((total, c) => total + c[key], 0);
  const wall = sum('wallS');
  const share = (key) => sum(key) / wall;
  const busy = share('consumerOwnS') + share('consumerChildrenS') + share('redisS') + share('benchS');
  lines.push(
    `CPU during the Beamline 1-process runs (CPU seconds per wall second, ${cores} cores available): worker process ${share('consumerOwnS').toFixed(2)}, its sandboxes ${share('consumerChildrenS').toFixed(2)}, Redis ${share('redisS').toFixed(2)}, bench process ${share('benchS').toFixed(2)}; total ${busy.toFixed(2)} of ${cores}.`,
    '',
    `Top 10 self-time functions of the Beamline worker process (\`--cpu-prof\` of its main thread, one extra 1-process run of ${prof.jobs} no-op jobs at ${fmt(prof.rate)} jobs/s under the profiler; ${prof.window}: ${fmt(prof.totalMs)} ms sampled, idle ${(prof.idleShare * 100).toFixed(1)}%):`,
    '',
    '| # | function | heaviest caller | self time | share of samples |',
    '| --- | --- | --- | --- | --- |',
    ...prof.top.map(
      (r, i) =>
        `| ${i + 1} | \`${r.function.replaceAll('|', '\\|')}\` | ${r.caller ? `\`${r.caller.replaceAll('|', '\\|')}\`` : '—'} | ${fmt(r.selfMs)} ms | ${(r.share * 100).toFixed(1)}% |`,
    ),
    '',
    BOUND_NOTE(busy, share, prof),
    '',
  );
}

const fair = scenario.fairness;
const waitRow = (label, s, idle) => [
  label,
  `${fmt(s.median)} ms`,
  `${fmt(s.p99)} ms`,
  `${fmt(s.max)} ms`,
  idle === undefined ? '—' : ratio(Math.max(s.median, 1), Math.max(idle.median, 1)),
  idle === undefined ? '—' : '≤ 2×',
  idle === undefined ? '—' : met(Math.max(s.median, 1) <= 2 * Math.max(idle.median, 1)),
];
table(
  `Fair share between tenants: tenant B's jobs, ${fair.probes} submitted one every 50 ms, from submission (or, delayed ${fair.delayMs} ms, from their due time) to start (one worker node, concurrency 16, per-tenant cap 12; every job a 20 ms sleep)`,
  ['tenant B waits', 'p50', 'p99', 'max', 'ratio of p50 to idle', 'target', 'met'],
  [
    waitRow('on an idle node', fair.idle),
    waitRow(`beside tenant A's ${fair.backlog.toLocaleString('en')} waiting jobs`, fair.loaded, fair.idle),
    waitRow('delayed jobs, on an idle node', fair.idleDelayed),
    waitRow(
      `delayed jobs, beside tenant A's backlog (promoted by the store into B's stream)`,
      fair.loadedDelayed,
      fair.idleDelayed,
    ),
    waitRow(
      `beside tenant A's paused function with ${fair.pausedJobs.toLocaleString('en')} queued jobs (parked)`,
      fair.besidePaused,
      fair.idle,
    ),
    waitRow(
      `beside tenant A's ${fair.pausedJobs.toLocaleString('en')} jobs at a concurrency key whose one slot is held (waiting for it)`,
      fair.besideKey,
      fair.idle,
    ),
  ],
);
lines.push(
  `Redis commands per second with tenant A's ${fair.pausedJobs.toLocaleString('en')} jobs of a paused function parked: ${fmt(fair.pausedCommandsPerSecond)}, against ${fmt(fair.idleCommandsPerSecond)} on the idle node (before parking, a review counted about 4,000); with as many of A's jobs waiting for a held concurrency key's slot: ${fmt(fair.keyedCommandsPerSecond)}. ${fair.notStarted} of tenant B's jobs had not started ${fair.giveUpMs / 1000} s after they could (counted as ${fair.giveUpMs / 1000} s). Job starts are ms timestamps, so a wait under 1 ms counts as 1 ms in the ratio.`,
  '',
);
const header = [
  '# Benchmarks',
  '',
  `Generated by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)}: ${cores} cores (${cpus()[0]?.model}), Node ${process.version}, Redis ${redisVersion}; ${quick ? 'quick run (fewer repetitions)' : 'full run'}, ${Math.round((Date.now() - started) / 1000)} s; load average (1, 5, 15 min) ${loadAtStart.map((l) => l.toFixed(2)).join(', ')} at the start and ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')} at the end (the machine is shared).`,
  'Every figure is a median over repeated runs with its spread, beside a baseline measured in the same run on the same private Redis.',
  'Per-package details and profiles: libs/runtime/README.md, apps/worker/README.md, apps/api/README.md.',
  '',
];
writeFileSync(new URL('docs/benchmarks.md', root), `${[...header, ...lines].join('\n').trimEnd()}\n`);
writeFileSync(
  new URL('bench/results.json', root),
  `${JSON.stringify({ quick, cores, node: process.version, redis: redisVersion, scenario, green, isolated, worker, api }, null, 2)}\n`,
);
// The results are committed: formatted as the linter wants them.
run('npx', [
  'biome',
  'format',
  '--write',
  'docs/benchmarks.md',
  'bench/results.json',
  'libs/runtime/bench/results.json',
  'libs/runtime/bench/isolated-results.json',
  'apps/worker/bench/results.json',
  'apps/api/bench/results.json',
]);
console.log(`\nwrote docs/benchmarks.md and bench/results.json in ${Math.round((Date.now() - started) / 1000)} s`);
