import { describe, expect, it } from 'vitest';
import { openConsole, useConsoleTest } from './console-platform.js';
import { KEYS } from './helpers.js';

const t = useConsoleTest();
const { screenshot } = t;

interface Snapshot {
  readonly processes: Array<{ pid: string; tenant: string }>;
}

/** The snapshots a key's console stream sends, read until `enough` says so. */
async function streamSnapshots(as: keyof typeof KEYS, enough: (snapshot: Snapshot) => boolean) {
  const abort = new AbortController();
  const response = await fetch(`${t.platform.api.url}/v1/console/stream`, {
    headers: { authorization: `Bearer ${KEYS[as]}` },
    signal: abort.signal,
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended: ${text}`);
      text += value;
      const snapshots = [...text.matchAll(/event: snapshot\ndata: (.*)\n/g)].map(
        (m) => JSON.parse(m[1] as string) as Snapshot,
      );
      if (snapshots.some(enough)) return { text, snapshots };
    }
  } finally {
    abort.abort();
  }
}

describe('the console at /console', () => {
  it('is served by the API with its own script, from / too, and asks no other host for anything', async () => {
    const root = await fetch(`${t.platform.api.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');
    const page = await fetch(`${t.platform.api.url}/console`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const [script] = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1] as string);
    const asset = await fetch(`${t.platform.api.url}${script}`);
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${t.platform.api.url}/console/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${t.platform.api.url}/console/sizes.json`)).status).toBe(404);

    const tab = await t.browser.newPage();
    const elsewhere: string[] = [];
    tab.on('request', (request) => {
      if (new URL(request.url()).origin !== new URL(t.platform.api.url).origin) elsewhere.push(request.url());
    });
    await tab.goto(`${t.platform.api.url}/`);
    await tab.getByLabel('API key').fill('not-a-key-of-this-api');
    await tab.getByRole('button', { name: 'Open the console' }).click();
    await tab.getByRole('alert').filter({ hasText: 'does not know this key' }).waitFor();
    await screenshot(tab, 'login');
    expect(elsewhere).toEqual([]);
    await tab.close();
  }, 60_000);

  it('shows the admin each node, whose utilization rises while CPU jobs run', async () => {
    const page = await openConsole(t.browser, t.platform.api.url, 'admin');
    const node = t.platform.worker.node.id;
    const panel = page.getByRole('region', { name: new RegExp(node) });
    const utilization = panel.getByTestId('utilization');
    await utilization.waitFor({ timeout: 30_000 });
    const before = Number.parseInt((await utilization.textContent()) ?? '', 10);
    expect(before).toBeLessThan(50);
    const jobs = await Promise.all(
      [1, 2].map(() => t.platform.submit('acme', { function: 'cpu', input: { ms: 25_000 } })),
    );
    try {
      // The page's own policy forbids evaluating strings in it: read the figure from here.
      await expect
        .poll(async () => Number.parseInt((await utilization.textContent()) ?? '', 10), {
          timeout: 45_000,
          interval: 250,
        })
        .toBeGreaterThanOrEqual(before + 25);
      expect(await panel.getByRole('img', { name: 'Scheduler utilization chart' }).isVisible()).toBe(true);
      await screenshot(page, 'nodes');
    } finally {
      for (const id of jobs) await t.platform.call('DELETE', `/v1/jobs/${id}`, 'acme');
      await page.close();
    }
  }, 90_000);

  it("lists a running job's process, kills it from its Kill button, and shows the job ended killed", async () => {
    const id = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 }, attempts: 1 });
    const pid = await t.platform.pidOf('acme', id);
    // Jobs belong to their tenant: the admin key may kill any process, but reads its own tenant's jobs only.
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', '#/processes');
    try {
      const row = page.locator(`tr[data-pid="${pid}"]`);
      await row.waitFor({ timeout: 30_000 });
      await expect(row.textContent()).resolves.toContain('sleep');
      await page.getByLabel('Filter processes').fill('sleep');
      await row.waitFor();
      await screenshot(page, 'processes');
      await page.getByRole('button', { name: `Kill ${pid}`, exact: true }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Kill sent to ${pid}` })
        .waitFor();
      await row.waitFor({ state: 'detached', timeout: 30_000 });

      await page.goto(`${t.platform.api.url}/console#/jobs/${id}`);
      await page.getByTestId('exit-reason').filter({ hasText: 'killed' }).waitFor({ timeout: 30_000 });
      await expect(page.getByTestId('job-state').textContent()).resolves.toBe('failed');
      await expect(t.platform.call('GET', `/v1/jobs/${id}`, 'acme')).resolves.toMatchObject({
        body: { state: 'failed', exit: { reason: 'killed' } },
      });
      await screenshot(page, 'job');

      await page.goto(`${t.platform.api.url}/console#/jobs`);
      await page.getByRole('link', { name: id, exact: true }).waitFor();
      await screenshot(page, 'jobs');
      await page.goto(`${t.platform.api.url}/console#/dead-letters`);
      await page.getByRole('button', { name: `Requeue job ${id}` }).waitFor();
      await screenshot(page, 'dead-letters');
      await page.goto(`${t.platform.api.url}/console#/functions`);
      await page.getByRole('cell', { name: /^cpu/ }).waitFor();
      await screenshot(page, 'functions');
    } finally {
      await page.close();
    }
  }, 90_000);

  it("shows a tenant none of another tenant's processes, in the page and in its stream", async () => {
    const ours = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
    const theirs = await t.platform.submit('globex', { function: 'sleep', input: { ms: 60_000 } });
    const [ourPid, theirPid] = [await t.platform.pidOf('acme', ours), await t.platform.pidOf('globex', theirs)];
    try {
      const { text, snapshots } = await streamSnapshots('acme', (s) => s.processes.some((p) => p.pid === ourPid));
      expect(text).toContain('event: hello\ndata: {"tenant":"acme","admin":false}');
      expect(text).not.toContain('globex');
      expect(text).not.toContain(theirPid);
      expect(text).not.toContain('event: history');
      for (const snapshot of snapshots) {
        expect(snapshot).not.toHaveProperty('nodes');
        expect(snapshot.processes.every((p) => p.tenant === 'acme')).toBe(true);
      }
      const admin = await streamSnapshots('admin', (s) => s.processes.some((p) => p.pid === theirPid));
      expect(admin.text).toContain(ourPid);

      const page = await openConsole(t.browser, t.platform.api.url, 'acme');
      try {
        await page.locator(`tr[data-pid="${ourPid}"]`).waitFor({ timeout: 30_000 });
        expect(await page.locator('tbody tr').count()).toBe(1);
        expect(await page.locator('body').textContent()).not.toContain(theirPid);
        expect(await page.getByRole('navigation').textContent()).not.toContain('Nodes');
        await page.goto(`${t.platform.api.url}/console#/nodes`);
        await page.locator(`tr[data-pid="${ourPid}"]`).waitFor();
      } finally {
        await page.close();
      }
    } finally {
      await t.platform.call('DELETE', `/v1/jobs/${ours}`, 'acme');
      await t.platform.call('DELETE', `/v1/jobs/${theirs}`, 'globex');
    }
  }, 90_000);

  it('keeps working when the API restarts', async () => {
    const page = await openConsole(t.browser, t.platform.api.url, 'admin', '#/processes');
    try {
      const status = page.getByTestId('stream-status');
      await t.platform.restartApi(async () => {
        await status.filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 30_000 });
      });
      await status.filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
      const id = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
      const pid = await t.platform.pidOf('acme', id);
      await page.locator(`tr[data-pid="${pid}"]`).waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: `Kill ${pid}`, exact: true }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Kill sent to ${pid}` })
        .waitFor();
      await t.platform.call('DELETE', `/v1/jobs/${id}`, 'acme');
    } finally {
      await page.close();
    }
  }, 90_000);
});
