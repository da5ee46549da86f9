import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromiumPath } from '@beamline/testing';
import { useRedisServer } from '@beamline/testing/vitest';
import { WorkerNode, loadConfig as workerConfig } from '@beamline/worker';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';
import { type Json, KEYS } from './helpers.js';

/** Builds the console's bundle, as `npm run build` does. */
export async function buildConsole(): Promise<void> {
  const script = fileURLToPath(new URL('../console/build.mjs', import.meta.url));
  await promisify(execFile)(process.execPath, [script]);
}

/** A worker node and an API that can be restarted on the same port, on the given Redis. */
export class ConsolePlatform {
  private constructor(
    readonly redisUrl: string,
    readonly worker: WorkerNode,
    public api: RunningApi,
  ) {}

  static async start(redisUrl: string): Promise<ConsolePlatform> {
    const worker = await WorkerNode.start(
      workerConfig({
        REDIS_URL: redisUrl,
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        PRESTART_THREADS: '1',
      }),
      pino({ level: 'silent' }),
    );
    return new ConsolePlatform(redisUrl, worker, await ConsolePlatform.startApi(redisUrl, 0));
  }

  private static startApi(redisUrl: string, port: number): Promise<RunningApi> {
    return startApi(
      loadConfig({
        REDIS_URL: redisUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        BEAMLINE_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.admin}:admin`,
      }),
      pino({ level: 'silent' }),
    );
  }

  /** Stops the API, then starts a new one on the same port. */
  async restartApi(whileDown: () => Promise<void> = async () => undefined): Promise<void> {
    const { port } = this.api;
    await this.api.close();
    await whileDown();
    this.api = await ConsolePlatform.startApi(this.redisUrl, port);
  }

  async call(
    method: string,
    path: string,
    as: keyof typeof KEYS,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${this.api.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEYS[as]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Submits a job and returns its id. */
  async submit(as: keyof typeof KEYS, job: Record<string, unknown>): Promise<string> {
    const { status, body } = await this.call('POST', '/v1/jobs', as, job);
    if (status !== 202) throw new Error(`submit: ${status} ${JSON.stringify(body)}`);
    return body.id as string;
  }

  /** Polls until the job runs with a pid, and returns the pid. */
  async pidOf(as: keyof typeof KEYS, id: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await this.call('GET', `/v1/jobs/${id}`, as);
      if (body.state === 'running' && body.pid) return body.pid as string;
      if (Date.now() > deadline) throw new Error(`job ${id} did not start: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    await this.api.close();
    await this.worker.stop();
  }
}

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: chromiumPath() });

/** Opens the console in a new page and signs in with `as`'s key through the login form. */
export async function openConsole(browser: Browser, url: string, as: keyof typeof KEYS, hash = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${url}/console${hash}`);
  await page.getByLabel('API key').fill(KEYS[as]);
  await page.getByRole('button', { name: 'Open the console' }).click();
  await page.getByTestId('stream-status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
  return page;
}

export interface ConsoleTest {
  /** Set before the first test of the file: its own Redis, worker node and API. */
  platform: ConsolePlatform;
  browser: Browser;
  /** CONSOLE_DOCS=1 writes the screenshots into docs/console for docs/console.md; otherwise into a temporary directory. */
  screenshot(page: Page, name: string): Promise<Buffer>;
}

/** A console test file's platform (Redis, worker node, API, the console built) and Chromium, closed after it. */
export function useConsoleTest(): ConsoleTest {
  const shots = process.env.CONSOLE_DOCS
    ? fileURLToPath(new URL('../../../docs/console/', import.meta.url))
    : join(tmpdir(), 'beamline-console-shots');
  mkdirSync(shots, { recursive: true });
  const redis = useRedisServer();
  const test = {
    screenshot: (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: false }),
  } as ConsoleTest;
  beforeAll(async () => {
    await buildConsole();
    test.platform = await ConsolePlatform.start(redis.server.url);
    test.browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await test.browser?.close();
    await test.platform?.close();
  });
  return test;
}
