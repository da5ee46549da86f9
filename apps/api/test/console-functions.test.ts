import { describe, expect, it } from 'vitest';
import { openConsole, useConsoleTest } from './console-platform.js';
import type { KEYS } from './helpers.js';

const t = useConsoleTest();
const { screenshot } = t;

async function deploy(as: keyof typeof KEYS, name: string, defaults: Record<string, unknown> = {}): Promise<void> {
  const { status, body } = await t.platform.call('PUT', `/v1/functions/${name}`, as, {
    code: 'export default async (input) => ({ echoed: input });',
    defaults,
  });
  if (status !== 201) throw new Error(`deploy ${name}: ${status} ${JSON.stringify(body)}`);
}

const stateOf = async (id: string): Promise<string> =>
  (await t.platform.call('GET', `/v1/jobs/${id}`, 'acme')).body.state;

describe('the functions view', () => {
  it("shows a function's limits, pauses it from its button (its job waits, its job page says why) and resumes it", async () => {
    await deploy('acme', 'limited', { concurrency: 2, ratePerSecond: 5 });
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', '#/functions');
    try {
      const row = page.locator('tr[data-function="limited"]');
      await row.waitFor({ timeout: 30_000 });
      await expect(row.getByTestId('function-limits').textContent()).resolves.toBe('concurrency 2rate 5 per second');
      // A built-in has no such button: the API refuses to pause one (409).
      const builtin = page.locator('tr[data-function="echo"]');
      await expect(builtin.textContent()).resolves.toContain('built-in');
      expect(await builtin.getByRole('button').count()).toBe(0);

      // From the keyboard: the button takes the focus, Enter presses it.
      const pause = row.getByRole('button', { name: 'Pause function limited' });
      await expect(pause.textContent()).resolves.toBe('Pause function');
      await pause.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('status').filter({ hasText: 'Paused limited' }).waitFor();
      await row.locator('.state.paused').waitFor();
      expect((await t.platform.call('GET', '/v1/functions/limited', 'acme')).body.paused).toBe(true);
      await row.getByRole('button', { name: 'Resume function limited' }).waitFor();
      // The focus stays on the button, now Resume.
      await expect.poll(() => page.locator(':focus').textContent()).toBe('Resume function');
      await screenshot(page, 'functions-paused');

      // The worker nodes see the pause within about a second; a job submitted now waits.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const id = await t.platform.submit('acme', { function: 'limited', input: 'later' });
      // It stays waiting. Each 1-2 s a node takes it and puts it back at once (ADR 0016), during which the
      // API shows it `running` with no process for a moment; it never gets a process, uses no attempt, never ends.
      const until = Date.now() + 4000;
      const states = new Set<string>();
      while (Date.now() < until) {
        const { body } = await t.platform.call('GET', `/v1/jobs/${id}`, 'acme');
        states.add(body.state === 'running' && body.pid === undefined ? 'taken' : body.state);
        expect(body.attempts.made).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect([...states].filter((state) => !['waiting', 'delayed', 'taken'].includes(state))).toEqual([]);

      // Its job page says why it waits, beside the function's name.
      await page.goto(`${t.platform.api.url}/console#/jobs/${id}`);
      await page.getByRole('heading', { name: new RegExp(`^Job ${id} `) }).waitFor();
      await page.getByTestId('function-paused').waitFor({ timeout: 10_000 });
      await expect(page.getByRole('heading', { level: 2 }).textContent()).resolves.toMatch(/limited@1 paused/);
      await expect(page.getByTestId('paused-note').textContent()).resolves.toContain('Function limited is paused');
      await expect(page.getByTestId('job-state').textContent()).resolves.toMatch(/^(waiting|delayed|running)$/);
      expect(await stateOf(id)).not.toBe('completed');

      // Back to the functions by the note's link; Resume from its button; the job completes.
      await page.getByTestId('paused-note').getByRole('link', { name: 'Functions' }).click();
      await row.getByRole('button', { name: 'Resume function limited' }).click();
      await page.getByRole('status').filter({ hasText: 'Resumed limited' }).waitFor();
      await row.getByRole('button', { name: 'Pause function limited' }).waitFor();
      expect(await row.locator('.state.paused').count()).toBe(0);
      await expect.poll(() => stateOf(id), { timeout: 30_000 }).toBe('completed');
      await page.goto(`${t.platform.api.url}/console#/jobs/${id}`);
      await page.getByTestId('job-state').filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('function-paused').count()).toBe(0);
      expect(await page.getByTestId('paused-note').count()).toBe(0);
    } finally {
      await page.close();
      await t.platform.call('POST', '/v1/functions/limited/resume', 'acme');
    }
  }, 120_000);

  it("shows the API's refusal when the function is gone", async () => {
    await deploy('acme', 'short-lived');
    const page = await openConsole(t.browser, t.platform.api.url, 'acme', '#/functions');
    try {
      const pause = page.getByRole('button', { name: 'Pause function short-lived' });
      await pause.waitFor({ timeout: 30_000 });
      expect((await t.platform.call('DELETE', '/v1/functions/short-lived', 'acme')).status).toBe(204);
      await pause.click();
      await page.getByRole('alert').filter({ hasText: 'Function short-lived does not exist.' }).waitFor();
      await expect(pause.getAttribute('aria-disabled')).resolves.toBe('false');
    } finally {
      await page.close();
    }
  }, 60_000);

  it("shows a tenant none of another tenant's functions", async () => {
    await deploy('acme', 'acme-only', { concurrency: 1 });
    const page = await openConsole(t.browser, t.platform.api.url, 'globex', '#/functions');
    try {
      await page.locator('tr[data-function="echo"]').waitFor({ timeout: 30_000 });
      expect(await page.locator('main').textContent()).not.toContain('acme-only');
      expect(await page.locator('tr[data-function="acme-only"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 60_000);
});
