import { describe, expect, it } from 'vitest';
import { CallError, SupervisorClient, startSupervisor, workerChild } from '../../src/index.js';
import { testNode } from '../helpers.js';

describe('supervisor introspection for observers', () => {
  it('getFlags answers the strategy and limits it runs with, defaults filled in, changing nothing', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'rest_for_one', intensity: 3 }, [
      workerChild('w', async (ctx) => ctx.receive(() => false)),
    ]);
    const before = await sup.whichChildren();
    expect(await sup.getFlags()).toEqual({
      strategy: 'rest_for_one',
      intensity: 3,
      periodMs: 5000,
      autoShutdown: 'never',
    });
    expect(await sup.whichChildren()).toEqual(before);
    const dynamic = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      workerChild('job', async (ctx) => ctx.receive(() => false)),
    ]);
    expect((await dynamic.getFlags()).strategy).toBe('simple_one_for_one');
  });

  it('a client with a call timeout fails with timeout when the supervisor does not answer in time', async () => {
    const t = testNode();
    // A process that never answers calls, standing in for a supervisor busy restarting children.
    const silent = t.node.spawn(async (ctx) => ctx.receive(() => false));
    const client = new SupervisorClient(t.node, silent, 50);
    const answer = client.getFlags().catch((error: unknown) => error);
    await t.clock.advance(50);
    const failure = await answer;
    expect(failure).toBeInstanceOf(CallError);
    expect(failure).toMatchObject({ reason: 'timeout' });
  });
});
