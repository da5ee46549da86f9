import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@beamline/testing';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const started: ChildProcess[] = [];

afterEach(() => {
  // The start script leads its own process group: end it with Redis, the API and the workers.
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }
});

/** Runs the README's start command; resolves with its output so far once `marker` appears. */
function runStart(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string; until(marker: string): Promise<void> } {
  const child = spawn('node', ['scripts/start.mjs', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.push(child);
  let output = '';
  const waiters: Array<() => void> = [];
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.splice(0)) waiter();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return {
    child,
    output: () => output,
    until: (marker) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (output.includes(marker)) resolve();
          else if (child.exitCode !== null)
            reject(new Error(`npm start exited (${child.exitCode}) before "${marker}":\n${output}`));
          else waiters.push(check);
        };
        child.once('exit', check);
        check();
      }),
  };
}

const envWithoutRedisUrl = () => {
  const { REDIS_URL: _ignored, BEAMLINE_API_KEYS: _keys, ...env } = process.env;
  return env;
};

describe('npm start: the whole platform with one command', () => {
  it('starts Redis, a worker and the API, runs a submitted job, and stops everything on Ctrl-C', async () => {
    const [apiPort, redisPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const start = runStart(
      ['--port', String(apiPort), '--redis-port', String(redisPort), '--metrics-port', String(metricsPort)],
      envWithoutRedisUrl(),
    );
    try {
      await start.until('Ctrl-C stops everything.');
      const key = /API key:\s+(\S+)/.exec(start.output())?.[1] as string;
      expect(start.output()).toContain(`Redis:    redis://127.0.0.1:${redisPort}`);
      const base = `http://127.0.0.1:${apiPort}`;
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const submitted = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ function: 'echo', input: { from: 'npm start' } }),
      });
      expect(submitted.status).toBe(202);
      const { id } = (await submitted.json()) as { id: string };
      const done = await fetch(`${base}/v1/jobs/${id}/wait?timeoutMs=20000`, { headers });
      expect(await done.json()).toMatchObject({ state: 'completed', result: { from: 'npm start' } });
      expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
      start.child.kill('SIGINT');
      const [code] = await once(start.child, 'exit');
      expect(code).toBe(0);
      expect(start.output()).toContain('Stopped.');
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    } finally {
      rmSync(`${root}/.beamline/redis-${redisPort}`, { recursive: true, force: true });
    }
  }, 120_000);

  it('says how to install Redis when nothing answers and no redis-server is on PATH', async () => {
    const redisPort = await freePort();
    const bin = mkdtempSync(join(tmpdir(), 'beamline-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const start = runStart(['--no-build', '--redis-port', String(redisPort)], { ...envWithoutRedisUrl(), PATH: bin });
    const [code] = await once(start.child, 'exit');
    expect(code).toBe(1);
    expect(start.output()).toContain(
      `Nothing answers at redis://127.0.0.1:${redisPort} and no redis-server is on PATH.`,
    );
    expect(start.output()).toContain('apt-get install redis-server');
  });

  it('refuses a bad option with a message that names it', async () => {
    const start = runStart(['--no-build', '--workers', 'many'], envWithoutRedisUrl());
    const [code] = await once(start.child, 'exit');
    expect(code).toBe(1);
    expect(start.output()).toContain('--workers must be a whole number from 1 to 64; got "many"');
  });
});
