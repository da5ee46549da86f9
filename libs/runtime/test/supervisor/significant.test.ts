import { describe, expect, it } from 'vitest';
import {
  type AutoShutdown,
  type RestartType,
  SupervisorClient,
  startSupervisor,
  supervisorChild,
} from '../../src/index.js';
import { type TestNode, testNode } from '../helpers.js';
import { child, type How, pidOf, terminate } from './harness.js';

/** True when the supervisor ended; settles the node first so an auto-shutdown has happened. */
async function supervisorEnded(t: TestNode, pid: string): Promise<boolean> {
  await t.clock.advance(0);
  return !t.node.isAlive(pid);
}

describe('auto_shutdown and significant children', () => {
  it.each([
    ['never', 'temporary'],
    ['any_significant', 'temporary'],
    ['all_significant', 'temporary'],
    ['never', 'transient'],
    ['any_significant', 'transient'],
    ['all_significant', 'transient'],
  ] as Array<[AutoShutdown, RestartType]>)(
    'nonsignificant: with autoShutdown %s, a %s non-significant child never ends the supervisor',
    async (autoShutdown, restart) => {
      for (const how of ['supervisor', 'kill', 'abnormal', 'normal'] as How[]) {
        const t = testNode();
        const sup = await startSupervisor(t.node, { autoShutdown, intensity: 5 }, [child('child1', { restart })]);
        await terminate(t, sup, await pidOf(sup, 'child1'), how, 'child1');
        expect(await supervisorEnded(t, sup.ref), `${how}`).toBe(false);
      }
    },
  );

  it('significant_temporary with any_significant: a significant child ending by itself (any reason) ends the supervisor', async () => {
    for (const how of ['kill', 'abnormal', 'normal'] as How[]) {
      const t = testNode();
      const specs = [
        child('child1', { restart: 'temporary', significant: true }),
        child('child2', { restart: 'temporary', significant: true }),
        child('child3', { restart: 'temporary' }),
      ];
      const sup = await startSupervisor(t.node, { autoShutdown: 'any_significant', intensity: 5 }, specs);
      await sup.terminateChild('child1');
      expect(await supervisorEnded(t, sup.ref), 'terminateChild does not trigger it').toBe(false);
      await sup.startChild(specs[0] as never);
      const others = [await pidOf(sup, 'child2'), await pidOf(sup, 'child3')].map((p) => t.node.waitExit(p));
      const supExit = t.node.waitExit(sup.ref);
      await terminate(t, sup, await pidOf(sup, 'child1'), how).catch(() => undefined);
      expect(await supExit, `${how}`).toBe('shutdown');
      expect(await Promise.all(others)).toEqual(['shutdown', 'shutdown']);
    }
  });

  it('significant_temporary with all_significant: only the last significant child ending ends the supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { autoShutdown: 'all_significant', intensity: 5 }, [
      child('child1', { restart: 'temporary', significant: true }),
      child('child2', { restart: 'temporary', significant: true }),
      child('child3', { restart: 'temporary' }),
    ]);
    await terminate(t, sup, await pidOf(sup, 'child1'), 'normal');
    expect(await supervisorEnded(t, sup.ref)).toBe(false);
    const c3Exit = t.node.waitExit(await pidOf(sup, 'child3'));
    const supExit = t.node.waitExit(sup.ref);
    t.node.send(await pidOf(sup, 'child2'), 'stop');
    expect(await supExit).toBe('shutdown');
    expect(await c3Exit).toBe('shutdown');
  });

  it('significant_transient with any_significant: abnormal exits restart, a normal exit ends the supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { autoShutdown: 'any_significant', intensity: 5 }, [
      child('child1', { restart: 'transient', significant: true }),
      child('child2', { restart: 'transient', significant: true }),
      child('child3', { restart: 'transient' }),
    ]);
    await sup.terminateChild('child1');
    expect(await supervisorEnded(t, sup.ref)).toBe(false);
    await sup.restartChild('child1');
    const c1 = await pidOf(sup, 'child1');
    await terminate(t, sup, c1, 'kill');
    await terminate(t, sup, await pidOf(sup, 'child1'), 'abnormal');
    expect(await pidOf(sup, 'child1')).not.toBe(c1);
    const supExit = t.node.waitExit(sup.ref);
    t.node.send(await pidOf(sup, 'child1'), 'stop');
    expect(await supExit).toBe('shutdown');
    expect(t.node.processes()).toEqual([]);
  });

  it('significant_transient with all_significant: the second normal exit ends the supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { autoShutdown: 'all_significant', intensity: 5 }, [
      child('child1', { restart: 'transient', significant: true }),
      child('child2', { restart: 'transient', significant: true }),
      child('child3', { restart: 'transient' }),
    ]);
    await terminate(t, sup, await pidOf(sup, 'child1'), 'normal');
    expect(await supervisorEnded(t, sup.ref)).toBe(false);
    const supExit = t.node.waitExit(sup.ref);
    t.node.send(await pidOf(sup, 'child2'), 'stop');
    expect(await supExit).toBe('shutdown');
  });

  it('significant_simple: a simple_one_for_one supervisor refuses any_significant and all_significant (OTP 27+), accepts never', async () => {
    const t = testNode();
    for (const autoShutdown of ['any_significant', 'all_significant'] as const) {
      await expect(
        startSupervisor(t.node, { strategy: 'simple_one_for_one', autoShutdown }, [
          child('child1', { restart: 'temporary', significant: true }),
        ]),
      ).rejects.toMatchObject({ name: 'SupervisorSpecError', field: 'flags.autoShutdown' });
    }
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', autoShutdown: 'never' }, [child('c')]);
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(sup.ref, 'shutdown');
    expect(await supExit).toBe('shutdown');
  });

  it('significant_bystander: significant children stopped by a sibling restart do not end the supervisor', async () => {
    for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
      for (const autoShutdown of ['any_significant', 'all_significant'] as const) {
        const t = testNode();
        const sup = await startSupervisor(t.node, { strategy, autoShutdown, intensity: 5 }, [
          child('child1', { restart: 'transient', significant: true }),
          child('child2', { restart: 'transient' }),
          child('child3', { restart: 'transient', significant: true }),
        ]);
        const before = await Promise.all(['child1', 'child2', 'child3'].map((id) => pidOf(sup, id)));
        await terminate(t, sup, before[1] as string, 'kill');
        expect(await supervisorEnded(t, sup.ref), `${strategy} ${autoShutdown}`).toBe(false);
        const after = await Promise.all(['child1', 'child2', 'child3'].map((id) => pidOf(sup, id)));
        const restarted = after.map((pid, i) => pid !== before[i]);
        const expected = {
          one_for_one: [false, true, false],
          one_for_all: [true, true, true],
          rest_for_one: [false, true, true],
        };
        expect(restarted, `${strategy} ${autoShutdown}`).toEqual(expected[strategy]);
        await sup.stop('shutdown');
      }
    }
  });

  it('significant_escalation: an auto-shutdown of a significant child supervisor shuts down its parent too', async () => {
    const t = testNode();
    const inner = (significant: boolean) =>
      supervisorChild(
        'b',
        { autoShutdown: 'any_significant' },
        [child('c', { restart: 'transient', significant: true })],
        {
          restart: 'transient',
          significant,
        },
      );
    const a = await startSupervisor(t.node, { autoShutdown: 'any_significant' }, [inner(true)]);
    const b = await pidOf(a, 'b');
    const c = await pidOf(new SupervisorClient(t.node, b), 'c');
    const [aExit, bExit] = [t.node.waitExit(a.ref), t.node.waitExit(b)];
    t.node.send(c, 'stop');
    expect(await bExit).toBe('shutdown');
    expect(await aExit).toBe('shutdown');

    const a2 = await startSupervisor(t.node, { autoShutdown: 'any_significant' }, [inner(false)]);
    const b2 = await pidOf(a2, 'b');
    const c2 = await pidOf(new SupervisorClient(t.node, b2), 'c');
    const b2Exit = t.node.waitExit(b2);
    t.node.send(c2, 'stop');
    expect(await b2Exit).toBe('shutdown');
    expect(await supervisorEnded(t, a2.ref)).toBe(false);
  });

  it('an ignored significant child at start does not end an all_significant supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { autoShutdown: 'all_significant' }, [
      child('child1', { restart: 'transient', significant: true, start: () => 'ignore' }),
    ]);
    expect(await supervisorEnded(t, sup.ref)).toBe(false);
  });
});
