import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { openConsole, useConsoleTest } from './console-platform.js';
import { KEYS } from './helpers.js';

const t = useConsoleTest();
const { screenshot } = t;

/** Deploys a function for `tenant` from its source. */
async function deploy(tenant: keyof typeof KEYS, name: string, source: string): Promise<void> {
  const response = await fetch(`${t.platform.api.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${KEYS[tenant]}`, 'content-type': 'application/javascript' },
    body: source,
  });
  expect(response.status).toBe(201);
}

/** The console streams the API has open, as its /metrics says. */
async function consoleStreams(): Promise<number> {
  const text = await (await fetch(`${t.platform.api.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('beamline_console_streams '));
  return Number(line?.split(' ')[1]);
}

async function cancel(as: keyof typeof KEYS, ...ids: string[]): Promise<void> {
  for (const id of ids) await t.platform.call('DELETE', `/v1/jobs/${id}`, as);
}

describe('the supervision view', () => {
  it("shows the admin each node's tree live, and a tenant only its own job processes in it", async () => {
    const ours = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
    const theirs = await t.platform.submit('globex', { function: 'sleep', input: { ms: 60_000 } });
    const [ourPid, theirPid] = [await t.platform.pidOf('acme', ours), await t.platform.pidOf('globex', theirs)];
    const node = t.platform.worker.node.id;
    const admin = await openConsole(t.browser, t.platform.api.url, 'admin', '#/supervision');
    try {
      const tree = admin.getByRole('region', { name: `Supervision tree of ${node}` });
      const jobs = tree.locator('li[data-name="beamline_jobs"]');
      await jobs.locator(`li[data-pid="${ourPid}"]`).waitFor({ timeout: 30_000 });
      await jobs.locator(`li[data-pid="${theirPid}"]`).waitFor();
      const root = tree.locator('li[data-name="beamline_root"]');
      await expect(root.locator('.entry').first().textContent()).resolves.toMatch(/beamline_root.*rest_for_one/);
      await expect(jobs.locator('.entry').first().textContent()).resolves.toContain('simple_one_for_one');
      for (const component of ['heartbeat', 'consumer', 'control']) {
        await tree.locator('li[data-kind="worker"]', { hasText: component }).first().waitFor();
      }
      await screenshot(admin, 'supervision');
      // Live: a job that ends leaves the tree.
      await cancel('globex', theirs);
      await jobs.locator(`li[data-pid="${theirPid}"]`).waitFor({ state: 'detached', timeout: 30_000 });
    } finally {
      await admin.close();
    }

    const tenant = await openConsole(t.browser, t.platform.api.url, 'acme', '#/supervision');
    try {
      await tenant.locator(`li[data-pid="${ourPid}"]`).waitFor({ timeout: 30_000 });
      const text = (await tenant.locator('main').textContent()) ?? '';
      expect(text).toContain('beamline_jobs');
      for (const hidden of [theirPid, 'globex', 'heartbeat', 'consumer']) expect(text).not.toContain(hidden);
      await tenant.locator(`li[data-pid="${ourPid}"] a`, { hasText: ourPid }).click();
      await tenant.getByRole('heading', { name: `Process ${ourPid}` }).waitFor();
    } finally {
      await tenant.close();
      await cancel('acme', ours);
    }
  }, 120_000);
});

describe('the process page', () => {
  it('shows a process opened from the table with its links and monitors, mailbox, CPU, memory, Message and Kill', async () => {
    // A job that links to and monitors another job of its tenant (pid given in its input).
    await deploy(
      'acme',
      'watcher',
      'export default async ({ pid }, ctx) => { ctx.link(pid); ctx.monitor(pid); await ctx.receive(() => false); };',
    );
    const watched = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
    const watchedPid = await t.platform.pidOf('acme', watched);
    const watcher = await t.platform.submit('acme', { function: 'watcher', input: { pid: watchedPid }, attempts: 1 });
    const watcherPid = await t.platform.pidOf('acme', watcher);
    const theirs = await t.platform.submit('globex', { function: 'sleep', input: { ms: 60_000 } });
    const theirPid = await t.platform.pidOf('globex', theirs);
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', '#/processes');
    try {
      await page.locator(`tr[data-pid="${watcherPid}"]`).getByRole('link', { name: watcherPid }).click();
      await page.getByRole('heading', { name: `Process ${watcherPid}` }).waitFor();
      const links = page.getByRole('region', { name: 'Links' });
      const monitors = page.getByRole('region', { name: 'Monitors' });
      await links.getByRole('link', { name: watchedPid }).waitFor({ timeout: 30_000 });
      await monitors.getByRole('link', { name: watchedPid }).waitFor();
      // Its supervisor is the platform's: counted, not named.
      await expect(links.getByTestId('links-hidden').textContent()).resolves.toContain('1 process not yours');
      expect(await page.getByTestId('process-cpu').textContent()).toMatch(/\d+(\.\d+)? m?s/);

      await page.getByRole('button', { name: `Message ${watcherPid}`, exact: true }).click();
      await page.getByLabel(`Message to ${watcherPid} (JSON)`).fill('{"ping":1}');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Sent to ${watcherPid}` })
        .waitFor();
      // The job never takes it out of its mailbox: the next heartbeats say so.
      await page.getByTestId('process-mailbox').filter({ hasText: /^1$/ }).waitFor({ timeout: 30_000 });
      await screenshot(page, 'process');

      // A link is a way to the linked process's own page.
      await links.getByRole('link', { name: watchedPid }).click();
      await page.getByRole('heading', { name: `Process ${watchedPid}` }).waitFor();
      await page.getByRole('region', { name: 'Links' }).getByRole('link', { name: watcherPid }).waitFor();
      expect(await page.locator('body').textContent()).not.toContain(theirPid);

      await page.getByRole('button', { name: `Kill ${watchedPid}`, exact: true }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Kill sent to ${watchedPid}` })
        .waitFor();
      await page.getByText(`No live job process of yours has this pid`).waitFor({ timeout: 30_000 });
      // Linked, the watcher died with it.
      await expect
        .poll(async () => (await t.platform.call('GET', `/v1/jobs/${watcher}`, 'acme')).body.state, { timeout: 30_000 })
        .toBe('failed');
    } finally {
      await page.close();
      await cancel('acme', watched, watcher);
      await cancel('globex', theirs);
    }
  }, 120_000);

  it('shows the admin the pids a process is linked to, whoever they belong to', async () => {
    const id = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
    const pid = await t.platform.pidOf('acme', id);
    const jobSupervisor = t.platform.worker.node.whereis('beamline_jobs') as string;
    const page = await openConsole(t.browser, t.platform.api.url, 'admin', `#/processes/${pid}`);
    try {
      await page.getByRole('region', { name: 'Links' }).getByRole('link', { name: jobSupervisor }).waitFor({
        timeout: 30_000,
      });
      // The supervisor is the node's own: its page says what the tree says of it.
      await page.getByRole('region', { name: 'Links' }).getByRole('link', { name: jobSupervisor }).click();
      await page.getByRole('heading', { name: `Process ${jobSupervisor}` }).waitFor();
      await expect(page.locator('main .facts').textContent()).resolves.toMatch(/beamline_jobs.*simple_one_for_one/);
    } finally {
      await page.close();
      await cancel('acme', id);
    }
  }, 60_000);
});

describe("the job page's timeline", () => {
  it('shows submitted, each start with its node and attempt, the retry and the final state, and one Retry (requeue)', async () => {
    const id = await t.platform.submit('acme', {
      function: 'fail',
      input: { message: 'broken on purpose' },
      attempts: 2,
      backoff: { type: 'fixed', delayMs: 1500 },
    });
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', `#/jobs/${id}`);
    try {
      await page.getByTestId('job-state').filter({ hasText: 'failed' }).waitFor({ timeout: 45_000 });
      const timeline = page.getByRole('list', { name: 'Timeline' });
      const items = await timeline.locator('li').all();
      const steps = await Promise.all(items.map((item) => item.getAttribute('data-step')));
      expect(steps[0]).toBe('submitted');
      expect(steps.at(-1)).toBe('ended');
      expect(steps).toContain('started');
      expect(steps.some((s) => s?.startsWith('retry-') || s === 'earlier')).toBe(true);
      const node = t.platform.worker.node.id;
      await expect(timeline.locator('li[data-step="started"]').textContent()).resolves.toContain(
        `attempt 2 of 2 on node ${node}`,
      );
      await expect(timeline.locator('li[data-step="ended"]').textContent()).resolves.toContain('failed: error');
      const retry = page.getByRole('button', { name: 'Retry (requeue) job' });
      expect(await retry.isEnabled()).toBe(true);
      await screenshot(page, 'job-timeline');
      await retry.click();
      await page.getByRole('status').filter({ hasText: 'Queued again' }).waitFor();
    } finally {
      await page.close();
      await cancel('acme', id);
    }
  }, 90_000);
});

describe('one stream for all tabs', () => {
  it('8 tabs with one key share one connection, live in each; when the leading tab closes another takes over', async () => {
    const context = await t.browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Signed in already, as a tab opened from a signed-in one is.
    type Session = { sessionStorage: { setItem(key: string, value: string): void } };
    await context.addInitScript(
      (key) => (globalThis as unknown as Session).sessionStorage.setItem('beamline.apiKey', key),
      KEYS.acme,
    );
    const tabs: Page[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const tab = await context.newPage();
        await tab.goto(`${t.platform.api.url}/console#/processes`);
        tabs.push(tab);
      }
      const id = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
      const pid = await t.platform.pidOf('acme', id);
      for (const tab of tabs) {
        await tab.getByTestId('stream-status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
        await tab.locator(`tr[data-pid="${pid}"]`).waitFor({ timeout: 30_000 });
      }
      await expect.poll(consoleStreams, { timeout: 30_000 }).toBe(1);
      // One tab holds the connection for all.
      const roles = await Promise.all(tabs.map((tab) => tab.getByTestId('stream-status').getAttribute('data-leading')));
      expect(roles.filter((role) => role === 'true')).toHaveLength(1);

      const [leader] = tabs.splice(roles.indexOf('true'), 1) as [Page];
      await leader.close();
      const next = await t.platform.submit('acme', { function: 'sleep', input: { ms: 60_000 } });
      const nextPid = await t.platform.pidOf('acme', next);
      for (const tab of tabs) await tab.locator(`tr[data-pid="${nextPid}"]`).waitFor({ timeout: 30_000 });
      await expect.poll(consoleStreams, { timeout: 30_000 }).toBe(1);
      const newRoles = await Promise.all(
        tabs.map((tab) => tab.getByTestId('stream-status').getAttribute('data-leading')),
      );
      expect(newRoles.filter((role) => role === 'true')).toHaveLength(1);
      await cancel('acme', id, next);
    } finally {
      await context.close();
    }
    await expect.poll(consoleStreams, { timeout: 30_000 }).toBe(0);
  }, 120_000);
});
