import { useRedisServer } from '@beamline/testing/vitest';
import { WorkerNode, loadConfig as workerConfig } from '@beamline/worker';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';

export const KEYS = {
  acme: 'acme-key-0123456789abcdef',
  globex: 'globex-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef',
} as const;

/** A JSON response body, read field by field by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON
export type Json = any;

export interface Platform {
  readonly api: RunningApi;
  readonly worker: WorkerNode;
  readonly redisUrl: string;
  /** fetch against the API as a tenant (acme by default), JSON in and out. */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; as?: keyof typeof KEYS; headers?: Record<string, string>; raw?: string },
  ): Promise<{ status: number; body: Json; headers: Headers }>;
}

/** A private Redis, one worker node and the API, for the tests of one file. */
export function usePlatform(
  env: Record<string, string> = {},
  workerEnv: Record<string, string> = {},
): {
  readonly p: Platform;
  readonly redis: ReturnType<typeof useRedisServer>;
} {
  const redis = useRedisServer({ appendOnly: true });
  let platform: Platform | undefined;
  beforeAll(async () => {
    const redisUrl = redis.server.url;
    const worker = await WorkerNode.start(
      workerConfig({
        REDIS_URL: redisUrl,
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        PRESTART_THREADS: '1',
        ...workerEnv,
      }),
      pino({ level: 'silent' }),
    );
    const api = await startApi(
      loadConfig({
        REDIS_URL: redisUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        BEAMLINE_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.admin}:admin`,
        ...env,
      }),
      pino({ level: 'silent' }),
    );
    platform = {
      api,
      worker,
      redisUrl,
      async call(method, path, options = {}) {
        const headers: Record<string, string> = {
          authorization: `Bearer ${KEYS[options.as ?? 'acme']}`,
          ...options.headers,
        };
        let body: string | undefined = options.raw;
        if (options.body !== undefined) {
          body = JSON.stringify(options.body);
          headers['content-type'] ??= 'application/json';
        }
        const response = await fetch(`${api.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        return { status: response.status, body: parsed, headers: response.headers };
      },
    };
  }, 30_000);
  afterAll(async () => {
    await platform?.api.close();
    await platform?.worker.stop();
  });
  const p = new Proxy({} as Platform, {
    get(_target, property) {
      if (!platform) throw new Error('usePlatform: the platform is available inside tests, after beforeAll.');
      return platform[property as keyof Platform];
    },
  });
  return { redis, p };
}

/** Waits for a job to end through the API's long poll. */
export async function ended(p: Platform, id: string, as: keyof typeof KEYS = 'acme'): Promise<Json> {
  const { status, body } = await p.call('GET', `/v1/jobs/${id}/wait?timeoutMs=20000`, { as });
  if (status !== 200) throw new Error(`job ${id} did not end: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Polls until the job runs, and returns it (with its pid). */
export async function running(p: Platform, id: string): Promise<Json> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { body } = await p.call('GET', `/v1/jobs/${id}`);
    if (body.state === 'running' && body.pid) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} did not start: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
