import { describe, expect, it } from 'vitest';
import { CallError, type ChildStart, startSupervisor, workerChild } from '../../src/index.js';
import { idle, testNode } from '../helpers.js';
import { child, counts, pidOf, startTestWorker, terminate, testWorker } from './harness.js';

describe('child administration', () => {
  it('child_adm: the full API walk on a one_for_one supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [child('child1')]);
    const c1 = await pidOf(sup, 'child1');
    expect(await sup.startChild(child('child1'))).toEqual({ ok: false, error: 'already_started', pid: c1 });
    expect(await sup.terminateChild('hej')).toEqual({ ok: false, error: 'not_found' });
    const c1Exit = t.node.waitExit(c1);
    expect(await sup.terminateChild('child1')).toEqual({ ok: true });
    expect(await c1Exit).toBe('shutdown');
    expect(await sup.whichChildren()).toEqual([{ id: 'child1', pid: undefined, type: 'worker' }]);
    expect(await counts(sup)).toEqual([1, 0, 0, 1]);
    expect(await sup.terminateChild('child1')).toEqual({ ok: true });
    expect(await sup.startChild(child('child1'))).toEqual({ ok: false, error: 'already_present' });
    const restarted = await sup.restartChild('child1');
    expect(restarted).toEqual({ ok: true, pid: expect.any(String) });
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    expect(await sup.restartChild('child1')).toEqual({ ok: false, error: 'running' });
    expect(await sup.restartChild('child2')).toEqual({ ok: false, error: 'not_found' });
    expect(await sup.deleteChild('child1')).toEqual({ ok: false, error: 'running' });
    expect(await sup.deleteChild('hej')).toEqual({ ok: false, error: 'not_found' });
    expect(await sup.terminateChild('child1')).toEqual({ ok: true });
    expect(await sup.deleteChild('child1')).toEqual({ ok: true });
    expect(await sup.restartChild('child1')).toEqual({ ok: false, error: 'not_found' });
    expect(await sup.whichChildren()).toEqual([]);
    expect(await counts(sup)).toEqual([0, 0, 0, 0]);
    const p3 = await sup.startChild(child('child1'));
    if (!p3.ok || !p3.pid) throw new Error('start failed');
    expect(await sup.terminateChild(p3.pid)).toEqual({ ok: false, error: 'not_found' });
    expect(t.node.isAlive(p3.pid)).toBe(true);
  });

  it('child_adm: calls to a supervisor that does not exist fail with noproc', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    await sup.stop();
    await expect(sup.whichChildren()).rejects.toBeInstanceOf(CallError);
    await expect(sup.countChildren()).rejects.toMatchObject({ reason: 'noproc' });
  });

  it('child_adm_simple: the API walk on a simple_one_for_one supervisor', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [child('template')]);
    expect(await sup.whichChildren()).toEqual([]);
    expect(await counts(sup)).toEqual([1, 0, 0, 0]);
    const c1 = ((await sup.startChild([])) as { pid: string }).pid;
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    const c2 = ((await sup.startChild([])) as { pid: string }).pid;
    expect(await counts(sup)).toEqual([1, 2, 0, 2]);
    expect(await sup.whichChildren()).toEqual([
      { id: undefined, pid: c1, type: 'worker' },
      { id: undefined, pid: c2, type: 'worker' },
    ]);
    expect(await sup.terminateChild('child1')).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await sup.terminateChild(c1)).toEqual({ ok: true });
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    expect(t.node.isAlive(c1)).toBe(false);
    expect(await sup.terminateChild(c1)).toEqual({ ok: true });
    const stranger = t.node.spawn(testWorker);
    expect(await sup.terminateChild(stranger)).toEqual({ ok: false, error: 'not_found' });
    expect(t.node.isAlive(stranger)).toBe(true);
    expect(await sup.restartChild(c2)).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await sup.deleteChild(c2)).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await sup.whichChild('not-a-pid')).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await sup.whichChild(c2)).toEqual({ ok: true, child: { id: undefined, pid: c2, type: 'worker' } });
    expect(await sup.getChildSpec(c2)).toMatchObject({ ok: true, spec: { id: 'template' } });
  });

  it('extra_return: a start that returns { pid, info } passes the info on; automatic restarts still work', async () => {
    const t = testNode();
    const withInfo: ChildStart = (ctx) => ({ pid: ctx.spawnLink(testWorker), info: 'extra_return' });
    const sup = await startSupervisor(t.node, {}, [child('child1', { start: withInfo })]);
    await sup.terminateChild('child1');
    expect(await sup.restartChild('child1')).toEqual({ ok: true, pid: expect.any(String), info: 'extra_return' });
    await sup.terminateChild('child1');
    await sup.deleteChild('child1');
    const started = await sup.startChild(child('child1', { start: withInfo }));
    expect(started).toMatchObject({ ok: true, info: 'extra_return' });
    await terminate(t, sup, (started as { pid: string }).pid, 'abnormal');
    expect(await pidOf(sup, 'child1')).not.toBe((started as { pid: string }).pid);
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
  });

  it('which_children: newest first; which_child by id', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    expect(await sup.whichChild('childx')).toEqual({ ok: false, error: 'not_found' });
    await sup.startChild(child('child1'));
    await sup.startChild(child('child2'));
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['child2', 'child1']);
    const p1 = await pidOf(sup, 'child1');
    expect(await sup.whichChild('child1')).toEqual({ ok: true, child: { id: 'child1', pid: p1, type: 'worker' } });
    await sup.terminateChild('child1');
    expect(await sup.whichChild('child1')).toEqual({
      ok: true,
      child: { id: 'child1', pid: undefined, type: 'worker' },
    });
    await sup.deleteChild('child1');
    expect(await sup.whichChild('child1')).toEqual({ ok: false, error: 'not_found' });
  });

  it('count_children: 2,000 dynamic children are counted, and counted down as they die', async () => {
    const t = testNode();
    for (const type of ['worker', 'supervisor'] as const) {
      const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
        child('template', { restart: 'temporary', type }),
      ]);
      const pids: string[] = [];
      for (let i = 0; i < 2000; i++) pids.push(((await sup.startChild([])) as { pid: string }).pid);
      const expected = type === 'worker' ? [1, 2000, 0, 2000] : [1, 2000, 2000, 0];
      expect(await counts(sup)).toEqual(expected);
      for (const pid of pids) t.node.exit(pid, 'kill');
      expect(await counts(sup)).toEqual([1, 0, 0, 0]);
    }
  });

  it('count_restarting_children: children waiting for a retried restart are not active', async () => {
    const t = testNode();
    let failing = false;
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', intensity: 20, periodMs: 10_000 }, [
      child('template', {
        shutdown: 'brutal_kill',
        start: async (ctx) => {
          if (!failing) return ctx.spawnLink(testWorker);
          await ctx.sleep(1000);
          return { error: 'error' };
        },
      }),
    ]);
    const pids = [];
    for (let i = 0; i < 3; i++) pids.push(((await sup.startChild([])) as { pid: string }).pid);
    expect(await counts(sup)).toEqual([1, 3, 0, 3]);
    failing = true;
    t.node.exit(pids[0] as string, 'kill');
    t.node.exit(pids[1] as string, 'kill');
    await t.clock.advance(4000);
    const whileLooping = counts(sup);
    await t.clock.advance(2000);
    expect(await whileLooping).toEqual([1, 1, 0, 3]);
    failing = false;
    await t.clock.advance(4000);
    expect(await counts(sup)).toEqual([1, 3, 0, 3]);
    for (const info of await sup.whichChildren()) await sup.terminateChild(info.pid as string);
    expect(await counts(sup)).toEqual([1, 0, 0, 0]);
  });
});

describe('hanging restart loops', () => {
  function deadlockStart() {
    const state = { failing: false };
    const start: ChildStart = async (ctx) => {
      if (!state.failing) return startTestWorker(ctx);
      await ctx.sleep(2000);
      return { error: 'error' };
    };
    return { state, start };
  }

  it('hanging_restart_loop: requests are answered between retries and terminateChild stops the loop', async () => {
    const t = testNode();
    const { state, start } = deadlockStart();
    const spec = child('child1', { shutdown: 'brutal_kill', start });
    const sup = await startSupervisor(t.node, { intensity: 8, periodMs: 10_000 }, [spec]);
    const c1 = await pidOf(sup, 'child1');
    state.failing = true;
    const c1Exit = t.node.waitExit(c1);
    t.node.send(c1, { exitWith: 'error' });
    await t.clock.advance(2000);
    const answers = Promise.all([
      sup.startChild(spec),
      sup.restartChild('child1'),
      sup.deleteChild('child1'),
      sup.whichChildren(),
      counts(sup),
    ]);
    await t.clock.advance(2000);
    expect(await answers).toEqual([
      { ok: false, error: 'already_present' },
      { ok: false, error: 'restarting' },
      { ok: false, error: 'restarting' },
      [{ id: 'child1', pid: 'restarting', type: 'worker' }],
      [1, 0, 0, 1],
    ]);
    const terminated = sup.terminateChild('child1');
    await t.clock.advance(2000);
    expect(await terminated).toEqual({ ok: true });
    expect(await c1Exit).toBe('error');
    await t.clock.advance(4000);
    expect(await sup.whichChildren()).toEqual([{ id: 'child1', pid: undefined, type: 'worker' }]);
    state.failing = false;
    expect(await sup.restartChild('child1')).toMatchObject({ ok: true });
  });

  it('hanging_restart_loop_rest_for_one: the children after the looping one show as stopped', async () => {
    const t = testNode();
    const { state, start } = deadlockStart();
    const sup = await startSupervisor(t.node, { strategy: 'rest_for_one', intensity: 8, periodMs: 10_000 }, [
      child('child1'),
      child('child2', { shutdown: 'brutal_kill', start }),
      child('child3'),
    ]);
    const c1 = await pidOf(sup, 'child1');
    state.failing = true;
    t.node.send(await pidOf(sup, 'child2'), { exitWith: 'error' });
    await t.clock.advance(2000);
    const answers = Promise.all([sup.whichChildren(), counts(sup)]);
    await t.clock.advance(2000);
    expect(await answers).toEqual([
      [
        { id: 'child3', pid: undefined, type: 'worker' },
        { id: 'child2', pid: 'restarting', type: 'worker' },
        { id: 'child1', pid: c1, type: 'worker' },
      ],
      [3, 1, 0, 3],
    ]);
    const terminated = sup.terminateChild('child2');
    await t.clock.advance(2000);
    expect(await terminated).toEqual({ ok: true });
    await t.clock.advance(4000);
    const children = await sup.whichChildren();
    expect(children.map((c) => c.pid)).toEqual([undefined, undefined, c1]);
  });

  it('hanging_restart_loop_simple: a looping dynamic child can be terminated by its old pid', async () => {
    const t = testNode();
    const { state, start } = deadlockStart();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one', intensity: 8, periodMs: 10_000 }, [
      child('template', { shutdown: 'brutal_kill', start }),
    ]);
    const c1 = ((await sup.startChild([])) as { pid: string }).pid;
    state.failing = true;
    t.node.send(c1, { exitWith: 'error' });
    await t.clock.advance(2000);
    const answers = Promise.all([sup.restartChild(c1), sup.deleteChild(c1), sup.whichChildren(), counts(sup)]);
    await t.clock.advance(2000);
    expect(await answers).toEqual([
      { ok: false, error: 'simple_one_for_one' },
      { ok: false, error: 'simple_one_for_one' },
      [{ id: undefined, pid: 'restarting', type: 'worker' }],
      [1, 0, 0, 1],
    ]);
    const terminated = sup.terminateChild(c1);
    await t.clock.advance(2000);
    expect(await terminated).toEqual({ ok: true });
    await t.clock.advance(4000);
    expect(await sup.whichChildren()).toEqual([]);
    await idle();
  });

  it('workerChild passes simple_one_for_one arguments to the body', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      workerChild(
        'adder',
        async (ctx, a, b) => {
          await ctx.receive();
          ctx.exit((a as number) + (b as number));
        },
        { restart: 'temporary' },
      ),
    ]);
    const started = (await sup.startChild([2, 3])) as { pid: string };
    const exited = t.node.waitExit(started.pid);
    t.node.send(started.pid, 'go');
    expect(await exited).toBe(5);
  });
});
