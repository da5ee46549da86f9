import { describe, expect, it } from 'vitest';
import { isExitMessage, type ProcessContext, startSupervisor, workerChild } from '../../src/index.js';
import { testNode } from '../helpers.js';
import { child, pidOf, startTestWorker, testWorker } from './harness.js';

/** A child that ends with its own reason whatever it is asked (supervisor_4). */
function exitsWith(reason: unknown) {
  return async (ctx: ProcessContext) => {
    ctx.trapExit(true);
    await ctx.receive((m) => m === 'stop' || isExitMessage(m));
    ctx.exit(reason);
  };
}

describe('stopping a supervisor', () => {
  it('sup_stop_infinity: waits for children with shutdown infinity, which end with shutdown', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [
      child('child1', { shutdown: 'infinity', type: 'supervisor' }),
      child('child2', { shutdown: 'infinity' }),
    ]);
    const exits = [await pidOf(sup, 'child1'), await pidOf(sup, 'child2')].map((p) => t.node.waitExit(p));
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(sup.ref, 'shutdown');
    expect(await supExit).toBe('shutdown');
    expect(await Promise.all(exits)).toEqual(['shutdown', 'shutdown']);
  });

  it('sup_stop_timeout: a child that ignores shutdown is killed when its shutdown time is up', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [
      child('child1', { shutdown: 1000 }),
      child('child2', { shutdown: 1000 }),
    ]);
    const c1 = await pidOf(sup, 'child1');
    const c2 = await pidOf(sup, 'child2');
    t.node.send(c2, 'hang');
    const [c1Exit, c2Exit, supExit] = [c1, c2, sup.ref].map((p) => t.node.waitExit(p));
    t.node.exit(sup.ref, 'shutdown');
    await t.clock.advance(999);
    expect(t.node.isAlive(c2)).toBe(true);
    await t.clock.advance(1);
    expect(await c2Exit).toBe('killed');
    expect(await c1Exit).toBe('shutdown');
    expect(await supExit).toBe('shutdown');
    expect(t.reports).toContainEqual(
      expect.objectContaining({ event: 'shutdown_error', childId: 'child2', reason: 'killed' }),
    );
  });

  it('sup_stop_brutal_kill: a brutal_kill child is killed at once', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [
      child('child1', { shutdown: 1000 }),
      child('child2', { shutdown: 'brutal_kill' }),
    ]);
    const exits = [await pidOf(sup, 'child1'), await pidOf(sup, 'child2')].map((p) => t.node.waitExit(p));
    await sup.stop('shutdown');
    expect(await Promise.all(exits)).toEqual(['shutdown', 'killed']);
    expect(t.reports.filter((r) => r.type === 'supervisor')).toEqual([]);
  });

  it('sup_stop_timeout_dynamic and brutal_kill_dynamic: dynamic children stop with the same rules', async () => {
    const t = testNode();
    const timed = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      child('t', { restart: 'temporary', shutdown: 1000 }),
    ]);
    const [a, b] = [await timed.startChild([]), await timed.startChild([])].map((r) => (r.ok ? (r.pid as string) : ''));
    t.node.send(b as string, 'hang');
    const exits = [a, b].map((p) => t.node.waitExit(p as string));
    const stopping = timed.stop('shutdown');
    await t.clock.advance(1000);
    await stopping;
    expect(await Promise.all(exits)).toEqual(['shutdown', 'killed']);

    const brutal = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      child('t', { restart: 'temporary', shutdown: 'brutal_kill' }),
    ]);
    const pids = [];
    for (let i = 0; i < 10; i++) pids.push((await brutal.startChild([])) as { pid: string });
    const brutalExits = pids.map((r) => t.node.waitExit(r.pid));
    const supExit = t.node.waitExit(brutal.ref);
    t.node.exit(brutal.ref, 'shutdown');
    expect(await supExit).toBe('shutdown');
    expect(new Set(await Promise.all(brutalExits))).toEqual(new Set(['killed']));
  });

  it('sup_stop_timeout_dynamic: one shutdown_error per distinct reason, listing its pids (terminate_dynamic_children)', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      workerChild('t', (ctx, behaviour) => (behaviour === 'hang' ? testWorker(ctx) : exitsWith('own_reason')(ctx)), {
        shutdown: 1000,
      }),
    ]);
    const start = async (behaviour: string) => ((await sup.startChild([behaviour])) as { pid: string }).pid;
    const hanging = [await start('hang'), await start('hang'), await start('hang')];
    const ownReason = [await start('own'), await start('own')];
    for (const pid of hanging) t.node.send(pid, 'hang');
    const stopping = sup.stop('shutdown');
    await t.clock.advance(1000);
    await stopping;
    const shutdownErrors = t.reports.filter((r) => r.type === 'supervisor' && r.event === 'shutdown_error');
    expect(shutdownErrors).toHaveLength(2);
    expect(shutdownErrors).toContainEqual(
      expect.objectContaining({
        childId: 't',
        pid: undefined,
        reason: 'killed',
        pids: expect.arrayContaining(hanging),
      }),
    );
    expect(shutdownErrors).toContainEqual(
      expect.objectContaining({ childId: 't', reason: 'own_reason', pids: expect.arrayContaining(ownReason) }),
    );
    expect(shutdownErrors.flatMap((r) => (r.type === 'supervisor' ? (r.pids ?? []) : []))).toHaveLength(5);
  });

  it('sup_stop_race: children that die on their own during the stop are neither restarted nor waited for', async () => {
    const t = testNode();
    const reasons = ['normal', 'shutdown', { shutdown: 'test' }, 'other'];
    const racers = (['temporary', 'transient', 'permanent'] as const).flatMap((restart) =>
      reasons.map((reason, i) => workerChild(`${restart}_${i}`, exitsWith(reason), { restart, shutdown: 1000 })),
    );
    const slowLast = workerChild(
      'child_z',
      async (ctx) => {
        ctx.trapExit(true);
        await ctx.receive(isExitMessage);
        await ctx.sleep(1000);
        ctx.exit('shutdown');
      },
      { shutdown: 2000 },
    );
    const sup = await startSupervisor(t.node, {}, [child('child_a', { restart: 'temporary' }), ...racers, slowLast]);
    const racerPids = await Promise.all(racers.map((r) => pidOf(sup, r.id)));
    const racerExits = racerPids.map((p) => t.node.waitExit(p));
    const zExit = t.node.waitExit(await pidOf(sup, 'child_z'));
    const aExit = t.node.waitExit(await pidOf(sup, 'child_a'));
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(sup.ref, 'shutdown');
    await t.clock.advance(200);
    for (const pid of racerPids) t.node.send(pid, 'stop');
    await t.clock.advance(800);
    expect(await zExit).toBe('shutdown');
    expect(await supExit).toBe('shutdown');
    expect(await aExit).toBe('shutdown');
    expect(await Promise.all(racerExits)).toEqual([...reasons, ...reasons, ...reasons]);
    expect(t.node.processes()).toEqual([]);
  });

  it('sup_stop_non_shutdown_exit_dynamic: dynamic children ending with their own reason do not stop the stop', async () => {
    for (const restart of ['temporary', 'transient', 'permanent'] as const) {
      const t = testNode();
      const reasons = ['normal', 'shutdown', { shutdown: 'test' }, 'other'];
      const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
        workerChild('t', (ctx, reason) => exitsWith(reason)(ctx), { restart }),
      ]);
      const pids = [];
      for (const reason of reasons) pids.push(((await sup.startChild([reason])) as { pid: string }).pid);
      const exits = pids.map((p) => t.node.waitExit(p));
      const supExit = t.node.waitExit(sup.ref);
      t.node.exit(sup.ref, 'shutdown');
      expect(await supExit).toBe('shutdown');
      expect(await Promise.all(exits)).toEqual(reasons);
    }
  });

  it('hanging_restart_loop: a supervisor busy retrying a failing restart can still be stopped', async () => {
    const t = testNode();
    let failing = false;
    const sup = await startSupervisor(t.node, { intensity: 8, periodMs: 10_000 }, [
      child('child1', {
        shutdown: 'brutal_kill',
        start: async (ctx) => {
          if (!failing) return startTestWorker(ctx);
          await ctx.sleep(2000);
          return { error: 'error' };
        },
      }),
    ]);
    failing = true;
    t.node.send(await pidOf(sup, 'child1'), { exitWith: 'error' });
    await t.clock.advance(2000);
    const supExit = t.node.waitExit(sup.ref);
    const stopping = sup.stop('shutdown');
    await t.clock.advance(2000);
    await stopping;
    expect(await supExit).toBe('shutdown');
  });
});
