import { describe, expect, it } from 'vitest';
import { openConsole, useConsoleTest } from './console-platform.js';
import { type Json, KEYS } from './helpers.js';

const t = useConsoleTest();
const { screenshot } = t;

async function createSchedule(as: keyof typeof KEYS, definition: Record<string, unknown>): Promise<void> {
  const { status, body } = await t.platform.call('POST', '/v1/schedules', as, definition);
  if (status !== 201) throw new Error(`create schedule: ${status} ${JSON.stringify(body)}`);
}

/** The schedule's last runs as the API has them, newest first. */
async function lastRuns(as: keyof typeof KEYS, id: string): Promise<Json[]> {
  return (await t.platform.call('GET', `/v1/schedules/${id}`, as)).body.lastRuns as Json[];
}

const ENDED: unknown[] = ['completed', 'failed', 'cancelled'];

describe('the schedules view', () => {
  it('lists the schedules, opens one with its next and last runs, pauses, resumes and deletes it', async () => {
    await createSchedule('acme', { id: 'every-second', function: 'echo', input: 'tick', everyMs: 1000 });
    await createSchedule('acme', {
      id: 'nightly-report',
      function: 'echo',
      input: { report: 'daily' },
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
    });
    await createSchedule('globex', { id: 'globex-secret', function: 'echo', cron: '0 * * * *' });
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', '#/schedules');
    try {
      const row = page.locator('tr[data-schedule="every-second"]');
      await row.waitFor({ timeout: 30_000 });
      await expect(row.textContent()).resolves.toMatch(/every-second.*echo.*every 1 s.*active/);
      await expect(page.locator('tr[data-schedule="nightly-report"]').textContent()).resolves.toMatch(
        /0 3 \* \* \*.*Europe\/Paris.*active/,
      );
      await screenshot(page, 'schedules');

      await row.getByRole('link', { name: 'every-second' }).click();
      await page.getByRole('heading', { name: /^Schedule every-second/ }).waitFor();
      await expect.poll(() => page.getByTestId('next-runs').locator('li').count(), { timeout: 10_000 }).toBe(5);
      // Runs come every second; the page reads them again as they do.
      const lastRunsTable = page.getByRole('table', { name: 'Last runs' });
      const completedRun = lastRunsTable.locator('tr', { has: page.locator('.state.completed') }).first();
      await completedRun.waitFor({ timeout: 30_000 });
      await screenshot(page, 'schedule');

      // A run's job page names its schedule, a way back to it.
      const runId = (await completedRun.getAttribute('data-job')) as string;
      await completedRun.getByRole('link', { name: runId }).click();
      await page.getByRole('heading', { name: new RegExp(`^Job ${literally(runId)}`) }).waitFor();
      await page.getByTestId('job-state').filter({ hasText: 'completed' }).waitFor();
      await page.getByTestId('job-schedule').filter({ hasText: 'every-second' }).click();
      await page.getByRole('heading', { name: /^Schedule every-second/ }).waitFor();

      await page.getByRole('button', { name: 'Pause schedule' }).click();
      await page.getByRole('status').filter({ hasText: 'Paused.' }).waitFor();
      await page.getByTestId('schedule-state').filter({ hasText: 'paused' }).waitFor();
      await page.getByText('None while paused.').waitFor();
      // A run already started goes on to its end (the next one, not started, is removed: no job kept); then nothing new comes.
      await expect
        .poll(
          async () =>
            (await lastRuns('acme', 'every-second')).every((run) => run.state === null || ENDED.includes(run.state)),
          {
            timeout: 30_000,
          },
        )
        .toBe(true);
      const atPause = (await lastRuns('acme', 'every-second')).map((run) => run.jobId);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect((await lastRuns('acme', 'every-second')).map((run) => run.jobId)).toEqual(atPause);
      // The page has read them again meanwhile (every 2 s): the same runs.
      await expect
        .poll(async () => lastRunsTable.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.job)), {
          timeout: 10_000,
        })
        .toEqual(atPause);
      await page.getByTestId('schedule-state').filter({ hasText: 'paused' }).waitFor();

      await page.getByRole('button', { name: 'Resume schedule' }).click();
      await page.getByRole('status').filter({ hasText: 'Resumed.' }).waitFor();
      await page.getByTestId('schedule-state').filter({ hasText: 'active' }).waitFor();
      await expect.poll(() => page.getByTestId('next-runs').locator('li').count(), { timeout: 10_000 }).toBe(5);

      // Delete asks first; keeping it (its button, or Escape) changes nothing. All of it works from the keyboard.
      const focused = () => page.locator(':focus').textContent();
      await page.getByRole('button', { name: 'Delete schedule' }).click();
      const question = page.getByRole('alertdialog');
      await expect(question.textContent()).resolves.toContain('Delete schedule every-second?');
      await question.getByRole('button', { name: 'Keep it' }).click();
      await question.waitFor({ state: 'detached' });
      await expect.poll(focused).toBe('Delete schedule');
      await page.keyboard.press('Enter');
      // The keyboard lands on the answer.
      await expect.poll(focused).toBe('Yes, delete every-second');
      await page.keyboard.press('Escape');
      await question.waitFor({ state: 'detached' });
      expect((await t.platform.call('GET', '/v1/schedules/every-second', 'acme')).status).toBe(200);
      await expect.poll(focused).toBe('Delete schedule');
      await page.keyboard.press('Enter');
      await expect.poll(focused).toBe('Yes, delete every-second');
      await page.keyboard.press('Enter');
      await page.getByRole('status').filter({ hasText: 'Schedule every-second deleted.' }).waitFor();
      await page.locator('tr[data-schedule="nightly-report"]').waitFor();
      expect(await page.locator('tr[data-schedule="every-second"]').count()).toBe(0);
      expect((await t.platform.call('GET', '/v1/schedules/every-second', 'acme')).status).toBe(404);
    } finally {
      await page.close();
      await t.platform.call('DELETE', '/v1/schedules/every-second', 'acme');
    }
  }, 120_000);

  it("shows a tenant none of another tenant's schedules", async () => {
    const page = await openConsole(t.browser, t.platform.api.url, 'globex', '#/schedules');
    try {
      await page.locator('tr[data-schedule="globex-secret"]').waitFor({ timeout: 30_000 });
      expect(await page.locator('main').textContent()).not.toContain('nightly-report');
      await page.goto(`${t.platform.api.url}/console#/schedules/nightly-report`);
      await page.getByRole('alert').filter({ hasText: 'No schedule nightly-report of yours.' }).waitFor();
    } finally {
      await page.close();
    }
    const ours = await openConsole(t.browser, t.platform.api.url, 'acme', '#/schedules');
    try {
      await ours.locator('tr[data-schedule="nightly-report"]').waitFor({ timeout: 30_000 });
      expect(await ours.locator('main').textContent()).not.toContain('globex-secret');
    } finally {
      await ours.close();
    }
  }, 60_000);
});

describe("the job page's tree", () => {
  it("shows a job's children live with their states, each a link to a page naming its parent", async () => {
    const deployed = await fetch(`${t.platform.api.url}/v1/functions/fan-out`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/javascript' },
      body: `export default async (_, ctx) => {
        const children = [];
        for (let i = 0; i < 3; i++) children.push(await ctx.startJob('sleep', { ms: 1500 + i * 500 }));
        return Promise.all(children.map((child) => ctx.awaitJob(child)));
      };`,
    });
    expect(deployed.status).toBe(201);
    const parent = await t.platform.submit('acme', { function: 'fan-out', timeoutMs: 120_000 });
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', `#/jobs/${parent}`);
    try {
      const children = page.getByRole('table', { name: /^Children/ });
      await expect.poll(() => children.locator('tbody tr').count(), { timeout: 30_000 }).toBe(3);
      await page.getByRole('heading', { name: 'Children (3)' }).waitFor();
      // Live: each reaches completed while the page is open, and so does the parent.
      await expect.poll(() => children.locator('.state.completed').count(), { timeout: 60_000 }).toBe(3);
      await page.getByTestId('job-state').filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
      const rows = await children.locator('tbody tr').allTextContents();
      for (const row of rows) expect(row).toMatch(/sleep@\d+.*completed.*link/);
      await screenshot(page, 'job-tree');

      const child = (await children.locator('tbody tr').first().getAttribute('data-child')) as string;
      await children.getByRole('link', { name: child, exact: true }).click();
      await page.getByRole('heading', { name: new RegExp(`^Job ${child} `) }).waitFor();
      await expect(page.getByTestId('job-parent').textContent()).resolves.toBe(parent);
      await expect(page.getByTestId('job-relation').textContent()).resolves.toBe('link');
      await page.getByTestId('job-parent').click();
      await page.getByRole('heading', { name: new RegExp(`^Job ${parent} `) }).waitFor();
      await page.getByRole('heading', { name: 'Children (3)' }).waitFor();
    } finally {
      await page.close();
    }
    // Another tenant's key opens no page of the tree.
    const theirs = await openConsole(t.browser, t.platform.api.url, 'globex', `#/jobs/${parent}`);
    try {
      await theirs
        .getByRole('alert')
        .filter({ hasText: `No job ${parent} of yours.` })
        .waitFor();
    } finally {
      await theirs.close();
    }
  }, 120_000);
});

/** `text` as a regular expression matching it literally. */
function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
