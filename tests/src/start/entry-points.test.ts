import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { freePort } from '@beamline/testing';
import { useRedisServer } from '@beamline/testing/vitest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, killEverythingStarted, root, run } from './helpers.js';

const redis = useRedisServer();
const apiMain = join(root, 'apps/api/dist/main.js');
const workerMain = join(root, 'apps/worker/dist/main.js');
const servers: Server[] = [];

afterEach(async () => {
  killEverythingStarted();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function takenPort(): Promise<number> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  servers.push(server);
  return port;
}

/** Runs an app's entry point to its end; its stdout and stderr apart. */
async function runToEnd(main: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [main], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

const apiEnv = (extra: NodeJS.ProcessEnv = {}) =>
  cleanEnv({ REDIS_URL: redis.server.url, BEAMLINE_API_KEYS: 'entry-point-key-00001:acme', ...extra });

describe('the apps’ entry points', () => {
  beforeAll(async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  }, 600_000);

  it('the API says in one line which variable to change when its port is taken', async () => {
    const port = await takenPort();
    const { code, stderr } = await runToEnd(apiMain, apiEnv({ PORT: String(port) }));
    expect(code).toBe(1);
    expect(stderr).toBe(
      `The API could not start: port ${port} on 0.0.0.0 is already in use; set PORT to a free port (0 picks one)\n`,
    );
  }, 60_000);

  it('a worker node says in one line which variable to change when its metrics port is taken', async () => {
    const port = await takenPort();
    const { code, stderr } = await runToEnd(
      workerMain,
      cleanEnv({ REDIS_URL: redis.server.url, METRICS_PORT: String(port), PRESTART_THREADS: '0' }),
    );
    expect(code).toBe(1);
    expect(stderr).toBe(
      `The worker node could not start: port ${port} on 0.0.0.0 is already in use; set METRICS_PORT to a free port (0 picks one)\n`,
    );
  }, 60_000);

  it('logs JSON lines when its stdout is not a terminal, pino-pretty lines with LOG_FORMAT=pretty', async () => {
    const json = run(process.execPath, [apiMain], apiEnv({ PORT: '0' }));
    await json.until('API listening', 60_000);
    expect(json.output()).toMatch(/^\{"level":30,.*"msg":"API listening"\}$/m);
    json.child.kill('SIGTERM');
    expect((await json.ended(60_000)).code).toBe(0);
    expect(json.output()).toMatch(/"msg":"stopped"/);

    const pretty = run(process.execPath, [apiMain], apiEnv({ PORT: '0', LOG_FORMAT: 'pretty' }));
    await pretty.until('API listening', 60_000);
    expect(pretty.output()).toMatch(/^\[[\d:.]+\] INFO: API listening \{"port":\d+\}$/m);
    pretty.child.kill('SIGTERM');
    expect((await pretty.ended(60_000)).code).toBe(0);
  }, 120_000);

  it('logs pino-pretty lines when its stdout is a terminal', async () => {
    const terminal = run(
      'script',
      ['-qfec', `exec ${process.execPath} ${apiMain}`, '/dev/null'],
      apiEnv({ PORT: '0' }),
    );
    await terminal.until('API listening', 60_000);
    expect(terminal.output()).toMatch(/^\[[\d:.]+\] \S*INFO\S*: \S*API listening/m);
    expect(terminal.output()).not.toContain('{"level"');
    terminal.child.stdin?.write('\x03');
    expect((await terminal.ended(60_000)).code).toBe(0);
  }, 120_000);

  it('rejects an unknown LOG_FORMAT, naming it', async () => {
    const { code, stderr } = await runToEnd(apiMain, apiEnv({ LOG_FORMAT: 'xml' }));
    expect(code).toBe(78);
    expect(stderr).toContain('LOG_FORMAT must be json or pretty; got "xml"');
  }, 60_000);
});
