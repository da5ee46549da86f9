#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Builds what it needs, uses REDIS_URL or the
// Redis at the default address, or starts a redis-server from PATH (append-only, data under
// .beamline/), then the API and worker nodes; prints the URLs and an API key; Ctrl-C stops all.
//
// Options: --workers N (default 1), --port P (API, default $PORT or 3000),
//          --redis-port P (the default Redis address's port, default 6379),
//          --metrics-port P (the first worker's metrics port, default 9464), --no-build.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const state = join(root, '.beamline');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = process.argv[index + 1];
  if (value === undefined || value.startsWith('--')) fail(`--${name} needs a value.`);
  return value;
}

function fail(message) {
  process.stderr.write(`\n${message}\n`);
  process.exit(1);
}

function whole(text, name, min, max) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}.`);
  return n;
}

const workers = whole(option('workers', '1'), 'workers', 1, 64);
const apiPort = whole(option('port', process.env.PORT ?? '3000'), 'port', 0, 65535);
const redisPort = whole(option('redis-port', '6379'), 'redis-port', 1, 65535);
const metricsBase = whole(option('metrics-port', '9464'), 'metrics-port', 1, 65535);
const build = !process.argv.includes('--no-build');

/** Whether a Redis answers PING at 127.0.0.1:port. */
function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')));
    socket.on('error', () => resolve(false));
  });
}

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

const children = [];

/** Starts a child whose output lines are prefixed with its name; resolves on a line matching `ready`. */
function launch(name, command, args, env, ready) {
  const { BEAMLINE_API_KEYS: _keys, ...inherited } = process.env;
  // API keys go to the API alone (it gets them in `env`): a worker never holds them.
  const child = spawn(command, args, { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push({ name, child });
  return new Promise((resolve, reject) => {
    let started = false;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`[${name}] ${line}\n`);
        if (!started && ready.test(line)) {
          started = true;
          resolve(line);
        }
      });
    }
    child.on('exit', (code, signal) => {
      if (!started) reject(new Error(`${name} exited (${signal ?? code}) before it was ready`));
      else if (!stopping) process.stdout.write(`[${name}] exited (${signal ?? code})\n`);
    });
  });
}

let stopping = false;
async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nStopping…\n');
  const alive = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  // Workers and the API first (they drain), Redis last.
  const ordered = [...alive.filter(({ name }) => name !== 'redis'), ...alive.filter(({ name }) => name === 'redis')];
  for (const group of [
    ordered.filter(({ name }) => name !== 'redis'),
    ordered.filter(({ name }) => name === 'redis'),
  ]) {
    await Promise.all(
      group.map(
        ({ child }) =>
          new Promise((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 35_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
  process.stdout.write('Stopped.\n');
  process.exit(code);
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
// However this process ends, its children end with it.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
});

async function main() {
  if (build) {
    process.stdout.write('Building…\n');
    const result = spawnSync('npm', ['run', 'build', '--silent'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    });
    if (result.status !== 0) fail('The build failed; see above.');
  }
  mkdirSync(state, { recursive: true });

  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    if (!(await redisAnswers(redisPort))) {
      const server = onPath('redis-server');
      if (!server) {
        fail(
          `Nothing answers at ${redisUrl} and no redis-server is on PATH.\n` +
            'Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), ' +
            'or point REDIS_URL at a running Redis, then run npm start again.',
        );
      }
      const dir = join(state, `redis-${redisPort}`);
      mkdirSync(dir, { recursive: true });
      await launch(
        'redis',
        server,
        ['--port', String(redisPort), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''],
        {},
        /Ready to accept connections/,
      );
    }
  }

  const keyFile = join(state, 'api-keys.json');
  const keys = existsSync(keyFile)
    ? JSON.parse(readFileSync(keyFile, 'utf8'))
    : {
        user: `bl_${randomBytes(24).toString('base64url')}`,
        admin: `bl_admin_${randomBytes(24).toString('base64url')}`,
      };
  writeFileSync(keyFile, JSON.stringify(keys, null, 2), { mode: 0o600 });

  const apiKeys = process.env.BEAMLINE_API_KEYS ?? `${keys.user}:default,${keys.admin}:admin`;
  const workerPorts = [];
  for (let i = 0; i < workers; i++) {
    const metricsPort = metricsBase + i;
    workerPorts.push(metricsPort);
    await launch(
      `worker-${i + 1}`,
      process.execPath,
      [join(root, 'apps/worker/dist/main.js')],
      {
        REDIS_URL: redisUrl,
        METRICS_PORT: String(metricsPort),
        NODE_ID: `local-${i + 1}`,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      },
      /worker node started/,
    );
  }
  const listening = await launch(
    'api',
    process.execPath,
    [join(root, 'apps/api/dist/main.js')],
    {
      REDIS_URL: redisUrl,
      PORT: String(apiPort),
      BEAMLINE_API_KEYS: apiKeys,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    },
    /API listening/,
  );
  const port = apiPort || JSON.parse(listening.slice(listening.indexOf('{'))).port;
  const url = `http://127.0.0.1:${port}`;
  process.stdout.write(
    [
      '',
      'Beamline is running.',
      `  API:      ${url}   (docs: ${url}/docs, OpenAPI: ${url}/openapi.json)`,
      `  API key:  ${keys.user}   (tenant "default"; admin key: ${keys.admin})`,
      `  Redis:    ${redisUrl}`,
      `  Workers:  ${workers} (metrics: ${workerPorts.map((p) => `http://127.0.0.1:${p}/metrics`).join(', ')})`,
      '',
      'Try:',
      `  curl -s -X POST ${url}/v1/jobs -H "authorization: Bearer ${keys.user}" -H "content-type: application/json" -d '{"function":"echo","input":{"hello":"world"}}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch(async (error) => {
  process.stderr.write(`\nnpm start failed: ${error.message}\n`);
  await stopAll(1);
});
