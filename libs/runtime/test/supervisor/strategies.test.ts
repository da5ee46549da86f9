import { describe, expect, it } from 'vitest';
import {
  type ChildStart,
  isExitMessage,
  type ProcessContext,
  SupervisorClient,
  startSupervisor,
  supervisorChild,
  workerChild,
} from '../../src/index.js';
import { testNode } from '../helpers.js';
import { child, counts, pidOf, startsOnceThenFails, terminate, testWorker } from './harness.js';

/** A start function that fails on the given call numbers (1-based) and starts a test worker otherwise. */
function failingOnCalls(...failing: number[]): ChildStart & { calls: number } {
  const start = ((ctx: ProcessContext) => {
    start.calls++;
    return failing.includes(start.calls) ? { error: 'refused' } : ctx.spawnLink(testWorker);
  }) as ChildStart & { calls: number };
  start.calls = 0;
  return start;
}

describe('one_for_one', () => {
  it('restarts only the child that died; exceeding the intensity ends the supervisor with shutdown', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'one_for_one', intensity: 2, periodMs: 3_600_000 }, [
      child('child1'),
      child('child2'),
    ]);
    const [c1, c2] = [await pidOf(sup, 'child1'), await pidOf(sup, 'child2')];
    await terminate(t, sup, c1, 'abnormal');
    expect(await pidOf(sup, 'child1')).not.toBe(c1);
    expect(await pidOf(sup, 'child2')).toBe(c2);
    expect(await counts(sup)).toEqual([2, 2, 0, 2]);
    await terminate(t, sup, c2, 'abnormal');
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(await pidOf(sup, 'child1'), 'kill');
    expect(await supExit).toBe('shutdown');
    expect(t.reports.filter((r) => r.type === 'supervisor').map((r) => r.event)).toEqual([
      'child_terminated',
      'child_terminated',
      'child_terminated',
      'reached_max_restart_intensity',
    ]);
  });

  it('escalation: a child whose restart keeps failing is retried until the intensity is exceeded', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { intensity: 4 }, [
      child('child1', { start: startsOnceThenFails() }),
      child('child2'),
    ]);
    const c2 = await pidOf(sup, 'child2');
    const supExit = t.node.waitExit(sup.ref);
    const c2Exit = t.node.waitExit(c2);
    t.node.exit(await pidOf(sup, 'child1'), 'kill');
    expect(await supExit).toBe('shutdown');
    expect(await c2Exit).toBe('shutdown');
    const events = t.reports.flatMap((r) => (r.type === 'supervisor' ? [r.event] : []));
    expect(events.filter((e) => e === 'start_error')).toHaveLength(4);
    expect(events.at(-1)).toBe('reached_max_restart_intensity');
  });

  it('multiple_restarts: crashes spaced wider than the period never exhaust the intensity', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { intensity: 1, periodMs: 1000 }, [
      child('child1', { shutdown: 'brutal_kill' }),
    ]);
    for (let i = 0; i < 4; i++) {
      await terminate(t, sup, await pidOf(sup, 'child1'), 'abnormal');
      await t.clock.advance(2100);
    }
    expect(t.node.isAlive(sup.ref)).toBe(true);
    expect(await sup.terminateChild('child1')).toEqual({ ok: true });
    expect(await sup.deleteChild('child1')).toEqual({ ok: true });
  });

  it('restarts that fall exactly on the window edge still count (the window is inclusive)', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { intensity: 1, periodMs: 1000 }, [child('child1')]);
    await terminate(t, sup, await pidOf(sup, 'child1'), 'abnormal');
    await t.clock.advance(1000);
    const supExit = t.node.waitExit(sup.ref);
    t.node.send(await pidOf(sup, 'child1'), 'die');
    expect(await supExit).toBe('shutdown');
  });
});

describe('one_for_all', () => {
  it('restarts every child when one dies, with new pids; the intensity still applies', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'one_for_all', intensity: 2, periodMs: 3_600_000 }, [
      child('child1'),
      child('child2'),
    ]);
    const [c1, c2] = [await pidOf(sup, 'child1'), await pidOf(sup, 'child2')];
    const c2Exit = t.node.waitExit(c2);
    await terminate(t, sup, c1, 'abnormal');
    expect(await c2Exit).toBe('shutdown');
    expect(await pidOf(sup, 'child1')).not.toBe(c1);
    expect(await pidOf(sup, 'child2')).not.toBe(c2);
    expect(await counts(sup)).toEqual([2, 2, 0, 2]);
    await terminate(t, sup, await pidOf(sup, 'child1'), 'abnormal');
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(await pidOf(sup, 'child2'), 'kill');
    expect(await supExit).toBe('shutdown');
  });

  it('when another child fails to restart, the retry terminates the freshly restarted ones again', async () => {
    const t = testNode();
    const second = failingOnCalls(2);
    const sup = await startSupervisor(t.node, { strategy: 'one_for_all', intensity: 3 }, [
      child('child1'),
      child('child2', { start: second }),
    ]);
    const c1 = await pidOf(sup, 'child1');
    const exits: Array<[string, unknown]> = [];
    const watch = (pid: string) => t.node.waitExit(pid).then((reason) => exits.push([pid, reason]));
    watch(c1);
    watch(await pidOf(sup, 'child2'));
    t.node.exit(c1, 'kill');
    await sup.countChildren();
    await sup.countChildren();
    const finalC1 = await pidOf(sup, 'child1');
    expect(second.calls).toBe(3);
    expect(await counts(sup)).toEqual([2, 2, 0, 2]);
    const restartedC1 = exits.find(([pid, reason]) => pid !== c1 && pid !== finalC1 && reason === 'shutdown');
    expect(restartedC1, 'the child1 started by the failed restart was shut down by the retry').toBeDefined();
  });
});

describe.each(['one_for_all', 'rest_for_one'] as const)('%s escalation', (strategy) => {
  it('a later child that fails to restart loops until the supervisor gives up and shuts down', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy, intensity: 4 }, [
      child('child1'),
      child('child2', { start: startsOnceThenFails() }),
    ]);
    const c2Exit = t.node.waitExit(await pidOf(sup, 'child2'));
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(await pidOf(sup, 'child1'), 'kill');
    expect(await c2Exit).toBe('shutdown');
    expect(await supExit).toBe('shutdown');
  });
});

describe('rest_for_one', () => {
  it('restarts the child that died and those started after it; earlier ones keep their pids', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'rest_for_one', intensity: 2, periodMs: 3_600_000 }, [
      child('child1'),
      child('child2'),
      child('child3'),
    ]);
    const [c1, c2, c3] = [await pidOf(sup, 'child1'), await pidOf(sup, 'child2'), await pidOf(sup, 'child3')];
    const c3Exit = t.node.waitExit(c3);
    await terminate(t, sup, c2, 'abnormal');
    expect(await c3Exit).toBe('shutdown');
    expect(await pidOf(sup, 'child1')).toBe(c1);
    expect(await pidOf(sup, 'child2')).not.toBe(c2);
    expect(await pidOf(sup, 'child3')).not.toBe(c3);
    expect(await counts(sup)).toEqual([3, 3, 0, 3]);
    await terminate(t, sup, await pidOf(sup, 'child3'), 'abnormal');
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(await pidOf(sup, 'child2'), 'kill');
    expect(await supExit).toBe('shutdown');
  });

  it('the retry after a later child failed does not restart the earlier child again', async () => {
    const t = testNode();
    const first = failingOnCalls();
    const second = failingOnCalls(2);
    const sup = await startSupervisor(t.node, { strategy: 'rest_for_one', intensity: 3 }, [
      child('child1', { start: first }),
      child('child2', { start: second }),
    ]);
    t.node.exit(await pidOf(sup, 'child1'), 'kill');
    await sup.countChildren();
    await sup.countChildren();
    expect(first.calls).toBe(2);
    expect(second.calls).toBe(3);
    expect(await counts(sup)).toEqual([2, 2, 0, 2]);
  });

  it('order_of_children: children start left to right and stop right to left', async () => {
    const t = testNode();
    const log: string[] = [];
    const recording = (id: string) =>
      workerChild(id, async (ctx) => {
        log.push(`start ${id}`);
        ctx.trapExit(true);
        const exit = await ctx.receive(isExitMessage);
        log.push(`stop ${id}`);
        ctx.exit(exit.reason);
      });
    const ids = ['ch7', 'ch3', 'ch10', 'ch2', 'ch5'];
    const sup = await startSupervisor(t.node, { strategy: 'rest_for_one', intensity: 5 }, ids.map(recording));
    await sup.countChildren();
    expect(log.splice(0)).toEqual(ids.map((id) => `start ${id}`));
    const pids = await Promise.all(ids.map((id) => pidOf(sup, id)));
    expect([...pids].sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))).toEqual(pids);
    t.node.exit(pids[2] as string, 'kill');
    await sup.countChildren();
    expect(log.splice(0)).toEqual(['stop ch5', 'stop ch2', 'start ch10', 'start ch2', 'start ch5']);
    await sup.stop('shutdown');
    expect(log).toEqual(['stop ch5', 'stop ch2', 'stop ch10', 'stop ch3', 'stop ch7']);
  });
});

describe('simple_one_for_one', () => {
  it('restarts a dynamic child with its arguments; exceeding the intensity ends the supervisor', async () => {
    const t = testNode();
    const seen: unknown[] = [];
    const template = workerChild(
      'template',
      async (ctx, ...args) => {
        seen.push(args);
        await testWorker(ctx);
      },
      { restart: 'permanent' },
    );
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', intensity: 2, periodMs: 3_600_000 }, [
      template,
    ]);
    const a = await sup.startChild(['a', 1]);
    const b = await sup.startChild(['b', 2]);
    if (!a.ok || !b.ok || !a.pid || !b.pid) throw new Error('start failed');
    await terminate(t, sup, a.pid, 'abnormal');
    const pids = (await sup.whichChildren()).map((c) => c.pid);
    expect(pids).toHaveLength(2);
    expect(pids).toContain(b.pid);
    expect(pids).not.toContain(a.pid);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
      ['a', 1],
    ]);
    expect(await counts(sup)).toEqual([1, 2, 0, 2]);
    await terminate(t, sup, b.pid, 'abnormal');
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit((await sup.whichChildren())[0]?.pid as string, 'kill');
    expect(await supExit).toBe('shutdown');
  });

  it('escalation: a dynamic child whose restart fails loops until the supervisor gives up', async () => {
    const t = testNode();
    const failing = startsOnceThenFails();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', intensity: 4 }, [
      child('template', { start: (ctx, mode) => (mode === 'error' ? failing(ctx) : ctx.spawnLink(testWorker)) }),
    ]);
    const first = await sup.startChild(['error']);
    const second = await sup.startChild(['fine']);
    if (!first.ok || !second.ok) throw new Error('start failed');
    const secondExit = t.node.waitExit(second.pid as string);
    const supExit = t.node.waitExit(sup.ref);
    t.node.exit(first.pid as string, 'kill');
    expect(await supExit).toBe('shutdown');
    expect(await secondExit).toBe('shutdown');
  });

  it('a dynamic child whose restart returns ignore is dropped', async () => {
    const t = testNode();
    let calls = 0;
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', intensity: 10 }, [
      child('template', { start: (ctx) => (++calls === 3 ? 'ignore' : ctx.spawnLink(testWorker)) }),
    ]);
    const started = await sup.startChild([]);
    await terminate(t, sup, started.ok ? (started.pid as string) : '', 'kill');
    await terminate(t, sup, (await sup.whichChildren())[0]?.pid as string, 'kill');
    expect(await sup.whichChildren()).toEqual([]);
    await sup.stop('shutdown');
  });

  it('stops its children in parallel: the stop takes as long as the slowest, capped by the shutdown time', async () => {
    const t = testNode();
    const slowStopper = (ctx: ProcessContext, ms: unknown) =>
      (async () => {
        ctx.trapExit(true);
        await ctx.receive(isExitMessage);
        await ctx.sleep(ms as number);
        ctx.exit('shutdown');
      })();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      workerChild('template', slowStopper, { shutdown: 2000, restart: 'temporary' }),
    ]);
    const pids = [];
    for (const ms of [1000, 1000, 5000]) {
      const r = await sup.startChild([ms]);
      pids.push(r.ok ? (r.pid as string) : '');
    }
    const exits = pids.map((pid) => t.node.waitExit(pid));
    let stopped = false;
    const stopping = sup.stop('shutdown').then(() => {
      stopped = true;
    });
    await t.clock.advance(1000);
    expect(stopped).toBe(false);
    await t.clock.advance(1000);
    await stopping;
    expect(t.clock.now()).toBe(2000);
    expect(await Promise.all(exits)).toEqual(['shutdown', 'shutdown', 'killed']);
  });
});

describe('supervision trees', () => {
  it('a supervisor is a process: linked and monitoring processes see it end with shutdown when it gives up', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { intensity: 0 }, [child('child1')]);
    const observer = t.node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(sup.ref as string);
      const ref = ctx.monitor(sup.ref);
      const exit = await ctx.receive(isExitMessage);
      const down = await ctx.receive((m) => (m as { ref?: string }).ref === ref);
      ctx.exit({ exit: exit.reason, down: (down as { reason: unknown }).reason });
    });
    await t.clock.advance(0);
    expect(t.node.processInfo(sup.ref)?.monitoredBy).toEqual([observer]);
    const observed = t.node.waitExit(observer);
    t.node.exit(await pidOf(sup, 'child1'), 'kill');
    expect(await observed).toEqual({ exit: 'shutdown', down: 'shutdown' });
  });

  it('tree: a nested supervisor that gives up escalates, and the top one_for_all restarts every child supervisor', async () => {
    const t = testNode();
    const top = await startSupervisor(t.node, { strategy: 'one_for_all', intensity: 4 }, [
      supervisorChild('supchild1', { intensity: 4 }, [child('child1'), child('child2')]),
      supervisorChild('supchild2', { intensity: 4 }, []),
      supervisorChild('supchild3', { intensity: 4 }, [], { restart: 'transient' }),
    ]);
    expect(await top.terminateChild('supchild3')).toEqual({ ok: true });
    expect(await counts(top)).toEqual([3, 2, 3, 0]);
    const sup1 = new SupervisorClient(t.node, await pidOf(top, 'supchild1'));
    const sup2 = new SupervisorClient(t.node, await pidOf(top, 'supchild2'));
    const oldChild1 = await pidOf(sup1, 'child1');
    await sup2.startChild(child('child3', { start: startsOnceThenFails() }));
    await sup2.startChild(child('child4'));
    const child4 = await pidOf(sup2, 'child4');
    await terminate(t, sup2, child4, 'kill');
    expect(await pidOf(sup2, 'child4')).not.toBe(child4);

    const sup2Exit = t.node.waitExit(sup2.ref);
    const sup1Exit = t.node.waitExit(sup1.ref);
    t.node.exit(await pidOf(sup2, 'child3'), 'kill');
    expect(await sup2Exit).toBe('shutdown');
    expect(await sup1Exit).toBe('shutdown');
    await top.countChildren();
    expect(await counts(top)).toEqual([3, 3, 3, 0]);
    const newSup1 = new SupervisorClient(t.node, await pidOf(top, 'supchild1'));
    const newSup2 = new SupervisorClient(t.node, await pidOf(top, 'supchild2'));
    const newSup3 = new SupervisorClient(t.node, await pidOf(top, 'supchild3'));
    expect((await newSup1.whichChildren()).map((c) => c.id)).toEqual(['child2', 'child1']);
    expect(await pidOf(newSup1, 'child1')).not.toBe(oldChild1);
    expect(await newSup2.whichChildren()).toEqual([]);
    expect(await newSup3.whichChildren()).toEqual([]);
  });

  it('temporary_bystander: a temporary sibling terminated by a one_for_all or rest_for_one restart is dropped', async () => {
    for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
      const t = testNode();
      const sup = await startSupervisor(t.node, { strategy, intensity: 2, periodMs: 300 }, [
        child('child1', { shutdown: 100 }),
        child('child2', { restart: 'temporary' }),
      ]);
      const bystander = await pidOf(sup, 'child2');
      const bystanderExit = t.node.waitExit(bystander);
      await terminate(t, sup, await pidOf(sup, 'child1'), 'normal');
      expect(await bystanderExit).toBe('shutdown');
      expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['child1']);
      expect(t.node.isAlive(sup.ref)).toBe(true);
    }
  });
});
