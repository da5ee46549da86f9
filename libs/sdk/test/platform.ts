import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig as apiConfig, type RunningApi, startApi } from '@beamline/api';
import { useRedisServer } from '@beamline/testing/vitest';
import { WorkerNode, loadConfig as workerConfig } from '@beamline/worker';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';

export const KEYS = {
  acme: 'acme-key-0123456789abcdef',
  globex: 'globex-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef',
} as const;

/** The SDK package's folder: the CLI runs from here, so paths in its messages are relative to it. */
export const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/beamline.js', import.meta.url));

export interface Platform {
  readonly url: string;
  readonly api: RunningApi;
  readonly worker: WorkerNode;
}

/**
 * A private Redis, one worker node and the API, in this process, for the tests of one file. The
 * acme tenant's jobs may fetch from 127.0.0.1 (the examples' HTTP server).
 */
export function usePlatform(): Platform {
  const redis = useRedisServer();
  let running: Platform | undefined;
  beforeAll(async () => {
    const redisUrl = redis.server.url;
    const worker = await WorkerNode.start(
      workerConfig({
        REDIS_URL: redisUrl,
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        PRESTART_THREADS: '1',
        EGRESS_ALLOW: '{"acme": ["127.0.0.1/32"]}',
      }),
      pino({ level: 'silent' }),
    );
    const api = await startApi(
      apiConfig({
        REDIS_URL: redisUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        BEAMLINE_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.admin}:admin`,
      }),
      pino({ level: 'silent' }),
    );
    running = { url: api.url, api, worker };
  }, 60_000);
  afterAll(async () => {
    await running?.api.close();
    await running?.worker.stop();
  }, 60_000);
  return new Proxy({} as Platform, {
    get(_target, property) {
      if (!running) throw new Error('usePlatform: the platform is available inside tests, after beforeAll.');
      return running[property as keyof Platform];
    },
  });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The key to use (acme by default); null for none. */
  readonly as?: keyof typeof KEYS | null;
  readonly url?: string;
  readonly cwd?: string;
  readonly stdin?: string;
  readonly env?: Record<string, string>;
}

/** Runs the built CLI as a child process, with BEAMLINE_URL and BEAMLINE_API_KEY set, and waits for it to exit. */
export function cli(
  platform: Platform | undefined,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = startCli(platform, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the built CLI as a child process, for commands that run until stopped (dev, top). */
export function startCli(platform: Platform | undefined, args: readonly string[], options: CliOptions = {}) {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...options.env };
  delete env.BEAMLINE_URL;
  delete env.BEAMLINE_API_KEY;
  const url = options.url ?? platform?.url;
  if (url !== undefined) env.BEAMLINE_URL = url;
  if (options.as !== null) env.BEAMLINE_API_KEY = KEYS[options.as ?? 'acme'];
  return spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? SDK_DIR, env, stdio: 'pipe' });
}

/** Parses the JSON a command printed on stdout, failing with what it printed when it is not JSON. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON field by field
export function json(result: CliResult): any {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`expected JSON on stdout (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with what `describe` says. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
