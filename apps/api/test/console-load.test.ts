import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useRedisServer } from '@beamline/testing/vitest';
import { Redis } from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_BUILD_DIR } from '../src/console/static-files.js';
import { buildConsole, ConsolePlatform, launchChromium } from './console-platform.js';
import { KEYS } from './helpers.js';

const WINDOW_MS = 15_000;

const redis = useRedisServer();
let platform: ConsolePlatform;
let browser: Browser;
const contexts: BrowserContext[] = [];
let monitor: Redis;

beforeAll(async () => {
  await buildConsole();
  platform = await ConsolePlatform.start(redis.server.url);
  browser = await launchChromium();
  monitor = new Redis(redis.server.url);
}, 60_000);

afterAll(async () => {
  monitor?.disconnect();
  await browser?.close();
  await platform?.close();
});

/** Calls per command since Redis started, INFO itself left out. */
async function commandCalls(): Promise<Map<string, number>> {
  const info = await monitor.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info') calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

/** Redis commands per second over WINDOW_MS, in all and by command. */
async function commandRate(): Promise<{ perSecond: number; byCommand: Record<string, number> }> {
  const before = await commandCalls();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const after = await commandCalls();
  const seconds = (performance.now() - started) / 1000;
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, calls] of after) {
    const delta = calls - (before.get(command) ?? 0);
    if (delta > 0) byCommand[command] = Math.round((delta / seconds) * 100) / 100;
    total += delta;
  }
  return { perSecond: Math.round((total / seconds) * 100) / 100, byCommand };
}

/**
 * A console of its own browser profile: one browser opens at most 6 connections to a host over
 * HTTP/1.1, and each console holds one for its stream.
 */
async function openSignedIn(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  contexts.push(context);
  // Signed in already, as a tab that has entered the key once is.
  await context.addInitScript({ content: `sessionStorage.setItem('beamline.apiKey', ${JSON.stringify(KEYS.admin)})` });
  const page = await context.newPage();
  await page.goto(`${platform.api.url}/console`);
  await page.getByTestId('utilization').first().waitFor({ timeout: 60_000 });
  return page;
}

describe('what the console costs', () => {
  it('ships little JavaScript, paints the cluster quickly, and twenty consoles cost Redis what one does', async () => {
    const sizes = JSON.parse(readFileSync(`${CONSOLE_BUILD_DIR}/sizes.json`, 'utf8')) as Array<{
      name: string;
      bytes: number;
      gzip: number;
    }>;
    const script = sizes.find((file) => file.name.endsWith('.js'));
    expect(script?.gzip).toBeLessThan(100 * 1024);

    // Let the worker settle (its first heartbeats, BullMQ's first checks) before measuring.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const none = await commandRate();

    const first = await openSignedIn();
    // Milliseconds from the navigation's start, as the page's performance timeline says.
    const paint = (await first.evaluate(`({
      domContentLoadedMs: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd,
      firstContentfulPaintMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      firstSnapshotMs: performance.getEntriesByName('console:first-snapshot')[0]?.startTime,
    })`)) as { domContentLoadedMs?: number; firstContentfulPaintMs?: number; firstSnapshotMs?: number };
    const one = await commandRate();

    await Promise.all(Array.from({ length: 19 }, () => openSignedIn()));
    const twenty = await commandRate();
    for (const context of contexts) await context.close();

    const figures = { javaScript: script, paint, redisCommandsPerSecond: { none, one, twenty }, windowMs: WINDOW_MS };
    console.log(JSON.stringify(figures, null, 2));
    if (process.env.CONSOLE_DOCS) {
      writeFileSync(
        fileURLToPath(new URL('../../../docs/console/measurements.json', import.meta.url)),
        `${JSON.stringify(figures, null, 2)}\n`,
      );
    }
    expect(paint.firstSnapshotMs).toBeGreaterThan(0);
    // The poller's reads: the same for one console and for twenty (give or take the platform's own noise).
    expect(twenty.perSecond - one.perSecond).toBeLessThan(3);
    expect(one.byCommand.mget ?? 0).toBeGreaterThan(0);
    expect(twenty.byCommand.mget ?? 0).toBeLessThan((one.byCommand.mget ?? 0) * 1.5 + 0.5);
  }, 180_000);
});
