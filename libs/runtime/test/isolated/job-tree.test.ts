import { describe, expect, it } from 'vitest';
import { functionModule, type JobTreeHost, type Pid, type StartJobOptions } from '../../src/index.js';
import { validateFromSandbox } from '../../src/isolated/validate-message.js';
import { isolatedNode } from './setup.js';

const probe = (name: string, body: string) =>
  functionModule(`export default async (input, ctx) => {\n${body}\n};`, name);

/** A host that records what it was asked and answers as the worker node would. */
function recordingHost() {
  const started: Array<{ from: Pid; fn: string; input: unknown; options: StartJobOptions }> = [];
  const host: JobTreeHost = {
    async startJob(from, fn, input, options) {
      started.push({ from, fn, input, options });
      return { id: String(started.length) };
    },
    async awaitJob(_from, jobId) {
      if (jobId === '1') return { from: 'child 1' };
      const error = new Error(`child job ${jobId} failed: error: boom`);
      error.name = 'ChildJobFailed';
      throw Object.assign(error, { code: 'error' });
    },
  };
  return { host, started };
}

describe('ctx.startJob and ctx.awaitJob reach the node only as requests it checks', () => {
  it('carries the function, input and known options to the host; fields the job adds are never read', async () => {
    const { host, started } = recordingHost();
    const { scheduler } = isolatedNode({ jobs: host });
    const outcome = await scheduler.run(
      probe(
        'starter',
        `const child = await ctx.startJob('resize', { w: 10 }, { monitor: true, priority: 'high', tenant: 'victim', parent: '7' });
         const result = await ctx.awaitJob(child);
         const failed = await ctx.awaitJob('2').catch((e) => ({ name: e.name, code: e.code, message: e.message }));
         return { child, result, failed };`,
      ),
    );
    expect(outcome.result).toEqual({
      child: { id: '1' },
      result: { from: 'child 1' },
      failed: { name: 'ChildJobFailed', code: 'error', message: 'child job 2 failed: error: boom' },
    });
    expect(started).toEqual([
      { from: outcome.pid, fn: 'resize', input: { w: 10 }, options: { monitor: true, priority: 'high' } },
    ]);
  });

  it('refuses both where the node runs no jobs, link and monitor together, and startJob beyond its rate', async () => {
    const { scheduler } = isolatedNode();
    const alone = await scheduler.run(probe('alone', `return ctx.startJob('x').catch((e) => e.message);`));
    expect(alone.result).toMatch(/runs no jobs: startJob is not available here/);
    const both = await scheduler.run(
      probe('both', `try { await ctx.startJob('x', 1, { link: true, monitor: true }); } catch (e) { return e.name; }`),
    );
    expect(both.result).toBe('BadArgError');
    const limited = isolatedNode({ jobs: recordingHost().host, outputRates: { send: { perSecond: 0.001, burst: 2 } } });
    const burst = await limited.scheduler.run(
      probe(
        'burst',
        `return Promise.all([1, 2, 3].map((i) => ctx.startJob('x', i).then((c) => c.id, (e) => e.message)));`,
      ),
    );
    expect(burst.result).toEqual(['1', '2', expect.stringMatching(/faster than its rate allows/)]);
  });

  it('validates the requests: option types, the job id, and forged fields are never a reason to trust', () => {
    const start = { t: 'startJob', serial: 1, id: 1, fn: 'f', input: null, options: { link: false, key: 'a' } };
    expect(validateFromSandbox(start, 100)).toBe(start);
    expect(validateFromSandbox({ ...start, tenant: 'victim' }, 100)).toEqual({ ...start, tenant: 'victim' });
    for (const options of [{ link: 'yes' }, { key: '' }, { priority: 'urgent' }, { delayMs: '5' }, null]) {
      expect(validateFromSandbox({ ...start, options }, 100), JSON.stringify(options)).toMatch(/malformed startJob/);
    }
    expect(validateFromSandbox({ t: 'awaitJob', serial: 1, id: 2, job: '17' }, 100)).toMatchObject({ job: '17' });
    expect(validateFromSandbox({ t: 'awaitJob', serial: 1, id: 2, job: 17 }, 100)).toMatch(/malformed awaitJob/);
    expect(validateFromSandbox({ t: 'awaitJob', serial: 1, id: 2, job: 'x'.repeat(101) }, 200)).toMatch(/malformed/);
  });

  it('shares one request among the awaits of one child, and holds at most 2048 unanswered', async () => {
    const asked: string[] = [];
    const host: JobTreeHost = {
      async startJob() {
        return { id: '1' };
      },
      awaitJob(_from, jobId) {
        asked.push(jobId);
        return jobId === '1' ? new Promise((resolve) => setTimeout(() => resolve('one'), 300)) : new Promise(() => {});
      },
    };
    const { scheduler } = isolatedNode({ jobs: host });
    const outcome = await scheduler.run(
      probe(
        'impatient',
        `const same = await Promise.all(Array.from({ length: 3000 }, () => ctx.awaitJob('1')));
         const many = Array.from({ length: 2100 }, (_, i) => ctx.awaitJob(String(i + 2)).catch((e) => e.message));
         const refused = await Promise.race([Promise.all(many.slice(2048)), new Promise((r) => setTimeout(r, 2000, 'none'))]);
         return { same: new Set(same).size === 1 && same[0], refused: refused === 'none' ? 'none' : refused.length, first: refused[0] };`,
      ),
    );
    expect(outcome.result).toEqual({
      same: 'one',
      refused: 52,
      first: expect.stringMatching(/at most 2048 startJob and awaitJob calls of one job may be unanswered/),
    });
    expect(asked.filter((id) => id === '1')).toHaveLength(1);
    // The first child was answered before the others were asked: 2048 of those reached the host.
    expect(asked).toHaveLength(1 + 2048);
  });
});
