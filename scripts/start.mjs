#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Builds what it needs, uses REDIS_URL or the
// Redis at the default address, or starts a redis-server from PATH (append-only, data under
// .beamline/), then the worker nodes and the API; prints the URLs and an API key. A signal
// (Ctrl-C) stops the API, then the workers (they drain), then the Redis it started; a second one
// stops everything at once. Options and variables: scripts/start/options.mjs, or `--help`.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chosenLogFormat, lineWriter } from './start/log-lines.mjs';
import {
  describeRefusal,
  listeningOn,
  listenRefusal,
  reachableHost,
  redisAnswers,
  withoutPassword,
} from './start/network.mjs';
import { parseOptions, USAGE, UsageError } from './start/options.mjs';
import { ExitedBeforeReady, ManagedProcess, runInForeground } from './start/processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const state = join(root, '.beamline');

/** A signal this soon after the first is the same Ctrl-C: npm passes on the one it gets too. */
const SAME_STOP_REQUEST_MS = 1000;
const API_STOP_GRACE_MS = 10_000;
/** Beyond DRAIN_DEADLINE_MS, for a worker to hand its jobs back and close its connections. */
const WORKER_STOP_MARGIN_MS = 15_000;
const REDIS_STOP_GRACE_MS = 30_000;
const REDIS_FORCED_STOP_GRACE_MS = 3000;
const REDIS_START_TIMEOUT_MS = 30_000;

/** A problem that stops `npm start` before the platform runs: one line, exit status 1. */
class StartFailure extends Error {}

/** The environment is wrong: one line per variable, exit status 2. */
class ConfigProblems extends Error {
  constructor(problems) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** Starting was interrupted by a stop request; the stop sequence ends the process. */
class Interrupted extends Error {}

process.stdout.on('error', () => undefined);

function say(text) {
  process.stdout.write(`${text}\n`);
}

/** Writes `lastLine`, then exits once it is out. */
function exitAfter(code, lastLine) {
  process.stdout.write(`${lastLine}\n`, () => process.exit(code));
}

function exitForUsage(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(2);
}

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) exitForUsage(error.message);
  throw error;
}
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (options.redisPort !== undefined && process.env.REDIS_URL !== undefined) {
  exitForUsage('--redis-port is for a local Redis, but REDIS_URL is set: drop one of them');
}
if (process.env.LOG_FORMAT !== undefined && !['json', 'pretty'].includes(process.env.LOG_FORMAT)) {
  exitForUsage(`LOG_FORMAT must be json or pretty; got ${JSON.stringify(process.env.LOG_FORMAT)}`);
}

const writeLine = lineWriter(chosenLogFormat(), root);
/** @type {ManagedProcess[]} */
const processes = [];
let build;
let stopRequestedAt;
let forcing = false;
let drainDeadlineMs = 30_000;

function launch(spec) {
  if (stopRequestedAt !== undefined) throw new Interrupted();
  const managed = new ManagedProcess({ ...spec, cwd: root, onLine: writeLine });
  processes.push(managed);
  return managed;
}

/** After start: the API or the Redis of `npm start` ending on its own ends the platform; a worker ending is said. */
function watchUnexpectedExits() {
  for (const managed of processes) {
    managed.exited.then(({ code, signal }) => {
      if (stopRequestedAt !== undefined) return;
      const how = signal ?? `status ${code}`;
      if (managed.role === 'worker') {
        say(`[${managed.name}] exited (${how}); the other processes go on.`);
        return;
      }
      process.stderr.write(`npm start: ${managed.name} exited unexpectedly (${how}); stopping.\n`);
      stopInOrder(1);
    });
  }
}

/** The API first (no new jobs), then the workers (running jobs finish and are stored), then our Redis. */
async function stopInOrder(code) {
  if (stopRequestedAt !== undefined) return;
  stopRequestedAt = Date.now();
  say('\nStopping… (Ctrl-C again stops everything at once)');
  build?.child.kill('SIGTERM');
  const phases = [
    { role: 'api', graceMs: API_STOP_GRACE_MS, words: 'Stopping the API…' },
    {
      role: 'worker',
      graceMs: drainDeadlineMs + WORKER_STOP_MARGIN_MS,
      words: `Stopping the workers; running jobs may finish (up to ${drainDeadlineMs / 1000} s)…`,
    },
    { role: 'redis', graceMs: REDIS_STOP_GRACE_MS, words: 'Stopping Redis…' },
  ];
  for (const { role, graceMs, words } of phases) {
    const running = processes.filter((managed) => managed.role === role && managed.running);
    if (running.length === 0) continue;
    say(words);
    await Promise.all(running.map((managed) => managed.stop('SIGTERM', graceMs)));
  }
  if (!forcing) exitAfter(code, 'Stopped.');
}

/** Kills the API and the workers (with their running jobs) and stops Redis at once. */
async function forceStop() {
  if (forcing) {
    for (const managed of processes) managed.kill();
    process.exit(130);
  }
  forcing = true;
  say('Stopping at once: killing the API and the workers.');
  build?.child.kill('SIGKILL');
  for (const managed of processes) if (managed.role !== 'redis') managed.kill();
  const redis = processes.filter((managed) => managed.role === 'redis');
  await Promise.all(redis.map((managed) => managed.stop('SIGTERM', REDIS_FORCED_STOP_GRACE_MS)));
  await Promise.all(processes.map((managed) => managed.exited));
  exitAfter(130, 'Stopped (forced).');
}

function onStopSignal() {
  if (stopRequestedAt === undefined) stopInOrder(0);
  else if (Date.now() - stopRequestedAt >= SAME_STOP_REQUEST_MS) forceStop();
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onStopSignal);
// However this process ends, what it started ends with it.
process.on('exit', () => {
  for (const managed of processes) if (managed.running) managed.kill();
});

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** On Linux, with util-linux's setpriv: the command gets SIGTERM should `npm start` die without stopping it. */
function endingWithThisProcess(command, args) {
  const setpriv = process.platform === 'linux' ? onPath('setpriv') : undefined;
  if (
    setpriv === undefined ||
    spawnSync(setpriv, ['--pdeathsig', 'TERM', process.execPath, '--version']).status !== 0
  ) {
    return { command, args };
  }
  return { command: setpriv, args: ['--pdeathsig', 'TERM', '--', command, ...args] };
}

async function buildAll() {
  say('Building…');
  build = runInForeground('npm', ['run', 'build', '--silent'], {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  const { code } = await build.finished;
  build = undefined;
  if (stopRequestedAt !== undefined) throw new Interrupted();
  if (code !== 0)
    throw new StartFailure('the build failed (see above); fix it, or start what is built with --no-build');
}

/** The apps' own configuration loaders, so that every variable is read and checked as the apps do. */
async function appConfigLoaders() {
  const load = async (app) => {
    const file = join(root, `apps/${app}/dist/config.js`);
    if (!existsSync(file)) throw new StartFailure(`apps/${app} is not built: run npm run build, or drop --no-build`);
    return (await import(pathToFileURL(file).href)).loadConfig;
  };
  return { loadApiConfig: await load('api'), loadWorkerConfig: await load('worker') };
}

function checked(load) {
  try {
    return load();
  } catch (error) {
    if (error?.name === 'ConfigError' && Array.isArray(error.problems)) throw new ConfigProblems(error.problems);
    throw error;
  }
}

/**
 * The user and admin keys made on the first start and kept in .beamline/api-keys.json. The file is
 * written once, whole (a temporary file renamed into place), so a second `npm start` that runs
 * at the same moment reads either no file or all of it, never a half-written one.
 */
function localKeys() {
  const keyFile = join(state, 'api-keys.json');
  if (!existsSync(keyFile)) {
    const fresh = {
      user: `bl_${randomBytes(24).toString('base64url')}`,
      admin: `bl_admin_${randomBytes(24).toString('base64url')}`,
    };
    const partial = `${keyFile}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(fresh, null, 2), { mode: 0o600 });
    if (existsSync(keyFile)) rmSync(partial);
    else renameSync(partial, keyFile);
  }
  return JSON.parse(readFileSync(keyFile, 'utf8'));
}

/** The ports to listen on, each checked now so that a clash is one line naming the option before anything starts. */
async function checkPorts(wanted) {
  const seen = new Map();
  for (const { port, host, owner, change } of wanted) {
    if (port === 0) continue;
    const other = seen.get(port);
    if (other !== undefined) throw new StartFailure(`${other} and ${owner} would both use port ${port}: ${change}`);
    seen.set(port, owner);
    const refusal = await listenRefusal(port, host);
    if (refusal !== undefined) throw new StartFailure(`${describeRefusal(refusal, host, port)} (${owner}): ${change}`);
  }
}

async function untilRedisAnswers(redis, port) {
  const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
  while (!(await redisAnswers(port))) {
    if (!redis.running) throw new ExitedBeforeReady(redis, await redis.exited);
    if (Date.now() > deadline) throw new StartFailure(`the redis-server started on port ${port} does not answer`);
    await sleep(100);
  }
}

/** A single-quoted shell word. */
function shellWord(text) {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The option or variable to change when a process could not listen. */
const PORT_ADVICE = {
  api: 'choose another port with --port P or PORT=P (0 picks a free one)',
  worker: 'choose other ports with --metrics-port P or METRICS_PORT=P (0 picks free ones)',
  redis: 'choose another port with --redis-port P, or set REDIS_URL',
};

/** One line for a process that ended before it was ready, naming the option to change if it could not listen. */
function whyNotReady(error) {
  const { process: managed } = error;
  const said = managed.output.join('\n');
  if (/EADDRINUSE|already in use/i.test(said)) {
    return `${managed.name} could not listen: its port is already in use; ${PORT_ADVICE[managed.role]}`;
  }
  const lastWords = managed.output.filter((line) => line.trim() !== '').at(-1);
  return lastWords === undefined ? error.message : `${error.message}: ${lastWords.trim()}`;
}

async function main() {
  if (options.build) await buildAll();
  mkdirSync(state, { recursive: true });
  const { loadApiConfig, loadWorkerConfig } = await appConfigLoaders();

  const { BEAMLINE_API_KEYS: givenKeys, ...inherited } = process.env;
  const redisPort = options.redisPort ?? 6379;
  const shared = {
    ...inherited,
    REDIS_URL: process.env.REDIS_URL ?? `redis://127.0.0.1:${redisPort}`,
    // The apps write JSON lines to `npm start`, which shows them as LOG_FORMAT (or the terminal) asks.
    LOG_FORMAT: 'json',
    ...(options.port === undefined ? {} : { PORT: String(options.port) }),
    ...(options.metricsPort === undefined ? {} : { METRICS_PORT: String(options.metricsPort) }),
  };

  const keys = givenKeys === undefined ? localKeys() : undefined;
  const apiEnv = { ...shared, BEAMLINE_API_KEYS: givenKeys ?? `${keys.user}:default,${keys.admin}:admin` };
  const apiConfig = checked(() => loadApiConfig(apiEnv));

  const runId = randomBytes(3).toString('hex');
  const nodeIdOf = (index) => {
    if (process.env.NODE_ID === undefined) return `local-${runId}-${index + 1}`;
    return options.workers === 1 ? process.env.NODE_ID : `${process.env.NODE_ID}-${index + 1}`;
  };
  const firstWorker = checked(() => loadWorkerConfig({ ...shared, NODE_ID: nodeIdOf(0) }));
  drainDeadlineMs = firstWorker.drainDeadlineMs;
  const metricsBase = firstWorker.metricsPort;
  if (metricsBase !== 0 && metricsBase + options.workers - 1 > 65_535) {
    throw new ConfigProblems([
      `the metrics ports of ${options.workers} workers from ${metricsBase} go past 65535: choose a lower --metrics-port or METRICS_PORT`,
    ]);
  }
  const workerEnvs = Array.from({ length: options.workers }, (_, index) => ({
    ...shared,
    NODE_ID: nodeIdOf(index),
    METRICS_PORT: String(metricsBase === 0 ? 0 : metricsBase + index),
  }));
  for (const env of workerEnvs) checked(() => loadWorkerConfig(env));

  const ownRedis = process.env.REDIS_URL === undefined && !(await redisAnswers(redisPort));
  const redisServer = ownRedis ? onPath('redis-server') : undefined;
  if (ownRedis && redisServer === undefined) {
    throw new StartFailure(
      `Nothing answers at ${shared.REDIS_URL} and no redis-server is on PATH. ` +
        'Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), ' +
        'or point REDIS_URL at a running Redis, then run npm start again.',
    );
  }
  await checkPorts([
    ...(ownRedis
      ? [{ port: redisPort, host: '127.0.0.1', owner: 'the Redis to start', change: PORT_ADVICE.redis }]
      : []),
    ...workerEnvs.map((env, index) => ({
      port: Number(env.METRICS_PORT),
      host: firstWorker.metricsHost,
      owner: `worker-${index + 1}'s metrics`,
      change: PORT_ADVICE.worker,
    })),
    { port: apiConfig.port, host: apiConfig.host, owner: 'the API', change: PORT_ADVICE.api },
  ]);

  const redisDir = join(state, `redis-${redisPort}`);
  if (ownRedis) {
    mkdirSync(redisDir, { recursive: true });
    const redisArgs = ['--port', String(redisPort), '--bind', '127.0.0.1', '--appendonly', 'yes'];
    const redis = launch({
      name: 'redis',
      role: 'redis',
      ...endingWithThisProcess(redisServer, [...redisArgs, '--dir', redisDir, '--save', '']),
      env: inherited,
      ipc: false,
    });
    await untilRedisAnswers(redis, redisPort);
  }

  const workers = [];
  for (const [index, env] of workerEnvs.entries()) {
    const worker = launch({
      name: `worker-${index + 1}`,
      role: 'worker',
      command: process.execPath,
      args: [join(root, 'apps/worker/dist/main.js')],
      env,
      ipc: true,
    });
    workers.push(await worker.ready());
  }
  const api = launch({
    name: 'api',
    role: 'api',
    command: process.execPath,
    args: [join(root, 'apps/api/dist/main.js')],
    env: apiEnv,
    ipc: true,
  });
  const { port: apiPort } = await api.ready();
  watchUnexpectedExits();
  // The API's last log lines, sent before its ready message, come first.
  await new Promise((resolve) => setImmediate(resolve));

  const url = `http://${reachableHost(apiConfig.host)}:${apiPort}`;
  const userKey = apiConfig.apiKeys.find(({ tenant }) => tenant !== 'admin') ?? apiConfig.apiKeys[0];
  const adminKey = apiConfig.apiKeys.find(({ tenant }) => tenant === 'admin');
  const keySource = givenKeys === undefined ? '.beamline/api-keys.json' : 'BEAMLINE_API_KEYS';
  const metricsHost = reachableHost(firstWorker.metricsHost);
  const workerLines = workers.map(
    ({ nodeId, port }, index) =>
      `${index === 0 ? '  Workers:  ' : '            '}${nodeId}   metrics: http://${metricsHost}:${port}/metrics`,
  );
  const submit = JSON.stringify({ function: 'echo', input: { hello: 'world' } });
  say(
    [
      '',
      'Beamline is running.',
      `  API:      ${url}   (${listeningOn(apiConfig.host, apiPort)}; docs: ${url}/docs, OpenAPI: ${url}/openapi.json)`,
      `  Console:  ${url}/console   (sign in with the admin key to see the nodes)`,
      `  API key:  ${userKey.key}   (tenant "${userKey.tenant}", from ${keySource})`,
      ...(adminKey && adminKey !== userKey ? [`  Admin key: ${adminKey.key}`] : []),
      `  Redis:    ${withoutPassword(shared.REDIS_URL)}${ownRedis ? `   (started here; data in ${relative(root, redisDir)})` : ''}`,
      ...workerLines,
      '',
      'Try:',
      `  curl -s -X POST ${url}/v1/jobs -H ${shellWord(`authorization: Bearer ${userKey.key}`)} -H 'content-type: application/json' -d ${shellWord(submit)}`,
      '',
      'The CLI (in another terminal, from this folder):',
      `  export BEAMLINE_URL=${url} BEAMLINE_API_KEY=${shellWord(userKey.key)}`,
      '  npx beamline run echo --input \'{"hello":"world"}\' --wait',
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error) => {
  if (stopRequestedAt !== undefined || error instanceof Interrupted) return;
  if (error instanceof ConfigProblems) {
    for (const problem of error.problems) process.stderr.write(`npm start: ${problem}\n`);
    if (processes.length === 0) process.exit(2);
  } else {
    const message =
      error instanceof ExitedBeforeReady
        ? whyNotReady(error)
        : error instanceof StartFailure
          ? error.message
          : error.stack;
    process.stderr.write(`npm start: ${message}\n`);
  }
  if (processes.length === 0) process.exit(1);
  stopInOrder(1);
});
