import {
  functionModule,
  isExitMessage,
  Node,
  type ProcessContext,
  Scheduler,
  SupervisorClient,
  startSupervisor,
  supervisorChild,
  workerChild,
} from '@beamline/runtime';
import { describe, expect, it } from 'vitest';

// Exercises the runtime through its built package entry point, as the apps consume it.
describe('@beamline/runtime as a package', () => {
  it('runs a supervision tree on real time: a crashed worker is restarted under a new pid', async () => {
    const node = new Node({ id: 'pkg' });
    async function counter(ctx: ProcessContext): Promise<void> {
      ctx.trapExit(true);
      for (;;) {
        const message = await ctx.receive();
        if (message === 'crash') throw new Error('crashed on purpose');
        if (isExitMessage(message)) ctx.exit(message.reason);
      }
    }
    const top = await startSupervisor(node, { strategy: 'one_for_one', intensity: 3, periodMs: 1000 }, [
      supervisorChild('workers', { strategy: 'one_for_all' }, [workerChild('a', counter), workerChild('b', counter)]),
    ]);
    const [workers] = await top.whichChildren();
    const sup = new SupervisorClient(node, workers?.pid as string);
    const before = await sup.whichChildren();
    const firstA = before.find((c) => c.id === 'a')?.pid as string;
    const exited = node.waitExit(firstA);
    node.send(firstA, 'crash');
    expect(await exited).toMatchObject({ error: { message: 'crashed on purpose' } });
    const after = await sup.whichChildren();
    expect(after.map((c) => c.id)).toEqual(['b', 'a']);
    for (const child of after) expect(before.map((c) => c.pid)).not.toContain(child.pid);
    await top.stop('shutdown');
    expect(node.processes()).toEqual([]);
  });

  it('runs a function module as an isolated process from the built package, and kills a runaway one', async () => {
    const node = new Node({ id: 'pkg-isolated' });
    const scheduler = new Scheduler(node, { prestart: 1 });
    try {
      const hash = functionModule(
        "export default async (text) => {\n  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));\n  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, 8);\n};",
        'hash',
      );
      expect(await scheduler.run(hash, 'beamline')).toMatchObject({
        reason: 'normal',
        result: expect.stringMatching(/^[0-9a-f]{8}$/),
      });
      const runaway = functionModule('export default async () => { for (;;) {} };', 'runaway');
      expect((await scheduler.run(runaway, null, { timeoutMs: 50 })).reason).toBe('timeout');
      expect(scheduler.stats().exits).toEqual({ normal: 1, timeout: 1 });
    } finally {
      await scheduler.close();
    }
  });
});
