import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, RedisServer, redisCommand } from '@beamline/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  answers,
  banner,
  cleanEnv,
  descendants,
  getJob,
  jobWhen,
  killEverythingStarted,
  killQuietly,
  removeRedisData,
  root,
  run,
  runStart,
  submitJob,
} from './start/helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  killEverythingStarted();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Redis of the test's own, stopped after it. */
async function privateRedis(): Promise<RedisServer> {
  const server = await RedisServer.start();
  cleanups.push(() => server.stop());
  return server;
}

/** Something listening on `port` on every interface, as a clash. */
async function occupy(port: number): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

/** Ports of a start with a Redis of its own, whose data is removed after the test. */
async function ownRedisPort(): Promise<number> {
  const port = await freePort();
  cleanups.push(() => removeRedisData(port));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('npm start: the whole platform with one command', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  }, 600_000);

  it('starts Redis, a worker and the API, shows the ports really bound, runs a job, and stops on Ctrl-C', async () => {
    const redisPort = await ownRedisPort();
    const start = runStart(['--port', '0', '--metrics-port', '0', '--redis-port', String(redisPort)], cleanEnv());
    await start.until('Ctrl-C stops everything.');
    const shown = banner(start.output());
    expect(start.output()).toContain(`Redis:    redis://127.0.0.1:${redisPort}`);
    // Services listen on 0.0.0.0; the banner gives an address that answers, with the ports bound.
    expect(shown.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(shown.workers).toHaveLength(1);
    expect(shown.workers[0]?.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect((await fetch(`${shown.workers[0]?.metricsUrl}/healthz`)).status).toBe(200);
    // Piped, the processes' log lines stay JSON.
    expect(start.output()).toMatch(/^\[api\] \{"level":30,.*"msg":"API listening"/m);

    const { id } = await submitJob(shown.apiUrl, shown.apiKey, { function: 'echo', input: { from: 'npm start' } });
    const done = await fetch(`${shown.apiUrl}/v1/jobs/${id}/wait?timeoutMs=20000`, {
      headers: { authorization: `Bearer ${shown.apiKey}` },
    });
    expect(await done.json()).toMatchObject({ state: 'completed', result: { from: 'npm start' } });

    start.interrupt();
    expect(await start.ended()).toEqual({ code: 0, signal: null });
    expect(start.output()).toContain('Stopped.');
    expect(await answers(`${shown.apiUrl}/healthz`)).toBe(false);
    expect(await answers(`${shown.workers[0]?.metricsUrl}/healthz`)).toBe(false);
  }, 600_000);

  it('stops on Ctrl-C in order: the API, then the workers once the running job is done and stored, then its Redis', async () => {
    const redisPort = await ownRedisPort();
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const ports = ['--port', String(apiPort), '--metrics-port', String(metricsPort), '--redis-port', String(redisPort)];
    const args = ['--no-build', ...ports];
    // Through npm with bash as its script shell: the start script gets the Ctrl-C from the terminal
    // and once more from npm, which passes signals on; that is still one Ctrl-C.
    const start = run('npm', ['start', '--', ...args], cleanEnv({ npm_config_script_shell: 'bash' }));
    await start.until('Ctrl-C stops everything.');
    const { apiUrl, apiKey } = banner(start.output());
    const { id } = await submitJob(apiUrl, apiKey, { function: 'sleep', input: { ms: 4000 } });
    await jobWhen(apiUrl, apiKey, id, (job) => job.state === 'running');

    const stopping = Date.now();
    start.interrupt();
    const ending = await start.ended();
    const stopMs = Date.now() - stopping;
    const output = start.output();
    expect(ending.code, output).toBe(0);
    expect(output).toContain('Stopped.');
    expect(output).not.toContain('Stopped (forced)');
    expect(output).not.toContain('ECONNREFUSED');
    const firstAt = (pattern: RegExp) => output.search(pattern);
    const apiStopped = firstAt(/^\[api\] .*"msg":"stopped"/m);
    const draining = firstAt(/^\[worker-1\] .*"msg":"draining"/m);
    const drained = firstAt(/^\[worker-1\] .*"finished":1,"handedBack":0/m);
    const redisStops = firstAt(/^\[redis\] .*(Received SIG|shutdown)/im);
    expect(apiStopped, output).toBeGreaterThan(0);
    expect([apiStopped < draining, draining < drained, drained < redisStops], output).toEqual([true, true, true]);
    console.info(`npm start stopped in ${stopMs} ms with a job that had up to 4 s left`);

    // Its Redis kept what the worker stored: the job is completed at once after a new start.
    const again = runStart(args, cleanEnv());
    await again.until('Ctrl-C stops everything.');
    const restarted = banner(again.output());
    expect(await getJob(restarted.apiUrl, apiKey, id)).toMatchObject({ state: 'completed', result: { slept: 4000 } });
    again.interrupt();
    expect((await again.ended()).code).toBe(0);
  }, 600_000);

  it('stops everything at once on a second Ctrl-C, even while a job is draining', async () => {
    const redisPort = await ownRedisPort();
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const start = runStart(
      [
        '--no-build',
        '--port',
        String(apiPort),
        '--metrics-port',
        String(metricsPort),
        '--redis-port',
        String(redisPort),
      ],
      cleanEnv({ DRAIN_DEADLINE_MS: '600000' }),
    );
    await start.until('Ctrl-C stops everything.');
    const { apiUrl, apiKey } = banner(start.output());
    const { id } = await submitJob(apiUrl, apiKey, { function: 'sleep', input: { ms: 600_000 } });
    await jobWhen(apiUrl, apiKey, id, (job) => job.state === 'running');

    start.interrupt();
    await start.until('Stopping the workers');
    // Past the window in which a second signal counts as the same Ctrl-C.
    await sleep(1500);
    start.interrupt();
    const ending = await start.ended(60_000);
    expect(ending.code, start.output()).toBe(130);
    expect(start.output()).toContain('Stopped (forced).');
    expect(await answers(`http://127.0.0.1:${metricsPort}/healthz`)).toBe(false);
    await expect(redisCommand(redisPort, ['PING'])).rejects.toThrow();
  }, 300_000);

  it('takes its processes with it when it is killed outright', async () => {
    const redisPort = await ownRedisPort();
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const start = runStart(
      [
        '--no-build',
        '--port',
        String(apiPort),
        '--metrics-port',
        String(metricsPort),
        '--redis-port',
        String(redisPort),
      ],
      cleanEnv(),
    );
    await start.until('Ctrl-C stops everything.');
    const below = descendants(start.child.pid as number);
    cleanups.push(() => {
      for (const pid of below) killQuietly(pid);
    });
    start.child.kill('SIGKILL');
    const deadline = Date.now() + 60_000;
    const alive = async () => [
      await answers(`http://127.0.0.1:${apiPort}/healthz`),
      await answers(`http://127.0.0.1:${metricsPort}/healthz`),
      await redisCommand(redisPort, ['PING']).then(
        () => true,
        () => false,
      ),
    ];
    let state = await alive();
    while (state.some(Boolean) && Date.now() < deadline) {
      await sleep(250);
      state = await alive();
    }
    expect(state).toEqual([false, false, false]);
  }, 300_000);

  it('prints its usage for --help and starts nothing', async () => {
    const start = runStart(['--help'], cleanEnv());
    expect(await start.ended(20_000)).toEqual({ code: 0, signal: null });
    const usage = start.output();
    for (const option of ['--workers', '--port', '--metrics-port', '--redis-port', '--no-build', '--help']) {
      expect(usage).toContain(option);
    }
    for (const variable of [
      'REDIS_URL',
      'PORT',
      'HOST',
      'METRICS_PORT',
      'METRICS_HOST',
      'BEAMLINE_API_KEYS',
      'NODE_ID',
      'DRAIN_DEADLINE_MS',
      'LOG_LEVEL',
      'LOG_FORMAT',
    ]) {
      expect(usage).toContain(variable);
    }
    expect(usage).not.toContain('Building');
  });

  it('refuses unknown options, stray arguments and bad values with status 2 and one line naming them', async () => {
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; says: string }> = [
      { args: ['--frobnicate'], says: 'unknown option --frobnicate' },
      { args: ['-x'], says: 'unknown option -x' },
      { args: ['extra'], says: 'unexpected argument "extra"' },
      { args: ['--port'], says: '--port needs a value' },
      { args: ['--no-build=yes'], says: '--no-build takes no value' },
      { args: ['--workers', 'many'], says: '--workers must be a whole number from 1 to 64; got "many"' },
      { args: ['--metrics-port', '70000'], says: '--metrics-port must be a whole number from 0 to 65535; got "70000"' },
      { args: ['--redis-port', '6390'], env: { REDIS_URL: 'redis://127.0.0.1:1' }, says: '--redis-port' },
      { args: ['--no-build'], env: { METRICS_PORT: 'abc' }, says: 'METRICS_PORT must be a whole number' },
      { args: ['--no-build'], env: { PORT: '-1' }, says: 'PORT must be a whole number' },
      { args: ['--no-build'], env: { LOG_FORMAT: 'xml' }, says: 'LOG_FORMAT must be json or pretty; got "xml"' },
      { args: ['--no-build'], env: { BEAMLINE_API_KEYS: 'short:acme' }, says: 'BEAMLINE_API_KEYS entry 1' },
    ];
    await Promise.all(
      cases.map(async ({ args, env, says }) => {
        const start = runStart(args, cleanEnv(env));
        const ending = await start.ended(60_000);
        const lines = start.output().trim().split('\n');
        expect({ args, env, code: ending.code, lines }).toEqual({ args, env, code: 2, lines: [expect.any(String)] });
        expect(lines[0]).toContain(says);
      }),
    );
  }, 120_000);

  it('says in one line which option or variable to change when a port is taken', async () => {
    const redis = await privateRedis();
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    await occupy(apiPort);
    await occupy(metricsPort);
    const env = cleanEnv({ REDIS_URL: redis.url });
    const [freeApiPort, freeMetricsPort] = [await freePort(), await freePort()];
    const apiClash = runStart(
      ['--no-build', '--port', String(apiPort), '--metrics-port', String(freeMetricsPort)],
      env,
    );
    const metricsClash = runStart(['--no-build', '--port', String(freeApiPort)], {
      ...env,
      METRICS_PORT: String(metricsPort),
    });
    for (const [start, port, names] of [
      [apiClash, apiPort, ['--port', 'PORT=']],
      [metricsClash, metricsPort, ['--metrics-port', 'METRICS_PORT=']],
    ] as const) {
      const ending = await start.ended(60_000);
      const output = start.output().trim();
      expect(ending.code, output).toBe(1);
      expect(output.split('\n'), output).toHaveLength(1);
      expect(output).toContain(`port ${port} on 0.0.0.0 is already in use`);
      for (const name of names) expect(output).toContain(name);
      expect(output).not.toMatch(/^\s+at /m);
    }
  }, 120_000);

  it('honours PORT, METRICS_PORT, LOG_FORMAT and BEAMLINE_API_KEYS from the environment; the curl it prints works', async () => {
    const redis = await privateRedis();
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const start = runStart(
      ['--no-build'],
      cleanEnv({
        REDIS_URL: redis.url,
        PORT: String(apiPort),
        METRICS_PORT: String(metricsPort),
        LOG_FORMAT: 'pretty',
        BEAMLINE_API_KEYS: 'the-admin-key-000000001:admin, acme-first-key-00000001:acme, beta-key-000000000000001:beta',
      }),
    );
    await start.until('Ctrl-C stops everything.');
    const shown = banner(start.output());
    expect(shown.apiUrl).toBe(`http://127.0.0.1:${apiPort}`);
    expect(shown.workers[0]?.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
    expect(shown.apiKey).toBe('acme-first-key-00000001');
    expect(shown.adminKey).toBe('the-admin-key-000000001');
    // LOG_FORMAT=pretty: pino-pretty's lines even though stdout is a pipe.
    expect(start.output()).toMatch(/^\[api\] \[[\d:.]+\] INFO: API listening/m);

    const answer = spawnSync('sh', ['-c', shown.curl], { encoding: 'utf8' });
    const submitted = JSON.parse(answer.stdout) as { id: string; state: string };
    expect(submitted.state).toBe('waiting');
    expect(await jobWhen(shown.apiUrl, shown.apiKey, submitted.id, (job) => job.state === 'completed')).toMatchObject({
      result: { hello: 'world' },
    });
  }, 300_000);

  it('gives the workers of two starts on one Redis different node ids', async () => {
    const redis = await privateRedis();
    const env = cleanEnv({ REDIS_URL: redis.url });
    const ports = async () => ['--port', String(await freePort()), '--metrics-port', String(await freePort())];
    const first = runStart(['--no-build', ...(await ports())], env);
    await first.until('Ctrl-C stops everything.');
    const second = runStart(['--no-build', ...(await ports())], env);
    await second.until('Ctrl-C stops everything.');
    const { apiUrl } = banner(first.output());
    const { admin } = JSON.parse(readFileSync(join(root, '.beamline/api-keys.json'), 'utf8')) as { admin: string };
    const liveNodes = async () => {
      const response = await fetch(`${apiUrl}/v1/nodes`, { headers: { authorization: `Bearer ${admin}` } });
      return ((await response.json()) as { nodes: Array<{ node: string }> }).nodes.map(({ node }) => node).sort();
    };
    const deadline = Date.now() + 30_000;
    let live = await liveNodes();
    while (live.length < 2 && Date.now() < deadline) {
      await sleep(250);
      live = await liveNodes();
    }
    const shown = [banner(first.output()), banner(second.output())].map(({ workers }) => workers[0]?.nodeId);
    expect(live).toEqual([...shown].sort());
    expect(live[0]).toMatch(/^local-[0-9a-f]+-1$/);
    expect(live[1]).toMatch(/^local-[0-9a-f]+-1$/);
    for (const start of [second, first]) {
      start.interrupt();
      expect((await start.ended()).code).toBe(0);
    }
  }, 300_000);

  it('shows pino-pretty lines in a terminal, and a Ctrl-C typed there stops it', async () => {
    const redis = await privateRedis();
    const ports = `--port ${await freePort()} --metrics-port ${await freePort()}`;
    const command = `exec ${process.execPath} scripts/start.mjs --no-build ${ports}`;
    const terminal = run(
      'script',
      ['-qfec', command, '/dev/null'],
      cleanEnv({ REDIS_URL: redis.url, SHELL: '/bin/sh' }),
    );
    await terminal.until('Ctrl-C stops everything.');
    expect(terminal.output()).not.toMatch(/^\[(api|worker-1)\] \{/m);
    expect(terminal.output()).toMatch(/^\[api\] \[[\d:.]+\] \S*INFO\S*: \S*API listening/m);
    terminal.child.stdin?.write('\x03');
    await terminal.until('Stopped.');
    expect((await terminal.ended()).code).toBe(0);
  }, 300_000);

  it('says how to install Redis when nothing answers and no redis-server is on PATH', async () => {
    const redisPort = await freePort();
    const bin = mkdtempSync(join(tmpdir(), 'beamline-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const start = runStart(['--no-build', '--redis-port', String(redisPort)], cleanEnv({ PATH: bin }));
    const ending = await start.ended(60_000);
    expect(ending.code).toBe(1);
    expect(start.output()).toContain(
      `Nothing answers at redis://127.0.0.1:${redisPort} and no redis-server is on PATH.`,
    );
    expect(start.output()).toContain('apt-get install redis-server');
  });
});
