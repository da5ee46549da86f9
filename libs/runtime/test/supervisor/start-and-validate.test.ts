import { describe, expect, it } from 'vitest';
import {
  type ChildSpec,
  StartError,
  SupervisorClient,
  SupervisorSpecError,
  startSupervisor,
  startSupervisorLink,
} from '../../src/index.js';
import { idle, testNode, track } from '../helpers.js';
import { child, counts, pidOf, startsOnceThenFails, startTestWorker, testWorker } from './harness.js';

describe('starting a supervisor', () => {
  it('sup_start_normal: starts with no children and stops when its parent sends shutdown', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { strategy: 'one_for_one', intensity: 2, periodMs: 3_600_000 }, []);
    expect(t.node.processInfo(sup.ref)).toMatchObject({ trapExit: true, initialFunction: 'supervisor' });
    const exited = t.node.waitExit(sup.ref);
    t.node.exit(sup.ref, 'shutdown');
    expect(await exited).toBe('shutdown');
  });

  it('registers the supervisor under a name when asked', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [], { name: 'top' });
    expect(t.node.whereis('top')).toBe(sup.ref);
  });

  it('sup_start_ignore_child: an ignored child keeps its spec without a pid', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    expect(await sup.startChild(child('child1', { start: () => 'ignore' }))).toEqual({ ok: true, pid: undefined });
    const second = await sup.startChild(child('child2'));
    expect(second.ok).toBe(true);
    expect(await sup.whichChildren()).toEqual([
      { id: 'child2', pid: second.ok ? second.pid : undefined, type: 'worker' },
      { id: 'child1', pid: undefined, type: 'worker' },
    ]);
    expect(await counts(sup)).toEqual([2, 1, 0, 2]);
  });

  it('sup_start_ignore_temporary_child: an ignored temporary child is not kept, at init or via startChild', async () => {
    const t = testNode();
    const ignoredTemporary = child('child1', { restart: 'temporary', start: () => 'ignore' });
    const sup = await startSupervisor(t.node, {}, [ignoredTemporary, child('child2', { restart: 'temporary' })]);
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['child2']);
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    expect(await sup.startChild({ ...ignoredTemporary, id: 'child3' })).toEqual({ ok: true, pid: undefined });
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
  });

  it('sup_start_ignore_temporary_child_start_child_simple: an ignored dynamic child is not stored', async () => {
    const t = testNode();
    let calls = 0;
    const sup = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [
      child('template', {
        restart: 'permanent',
        start: (ctx) => (++calls === 1 ? 'ignore' : ctx.spawnLink(testWorker)),
      }),
    ]);
    expect(await sup.startChild([])).toEqual({ ok: true, pid: undefined });
    const started = await sup.startChild([]);
    expect(await sup.whichChildren()).toEqual([{ id: undefined, pid: started.ok && started.pid, type: 'worker' }]);
    expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    const exited = t.node.waitExit(sup.ref);
    t.node.exit(sup.ref, 'shutdown');
    expect(await exited).toBe('shutdown');
  });

  it('sup_start_child_returns_error: a failing start is answered with the reason and nothing is kept', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    expect(await sup.startChild(child('a', { start: () => ({ error: 'reason' }) }))).toEqual({
      ok: false,
      error: 'start_failed',
      reason: 'reason',
    });
    const boom = new Error('boom');
    expect(
      await sup.startChild(
        child('b', {
          start: () => {
            throw boom;
          },
        }),
      ),
    ).toEqual({ ok: false, error: 'start_failed', reason: { error: boom } });
    expect(await sup.startChild(child('c', { start: (() => 42) as unknown as ChildSpec['start'] }))).toEqual({
      ok: false,
      error: 'start_failed',
      reason: { badReturn: 42 },
    });
    expect(await sup.whichChildren()).toEqual([]);
  });

  it('a child started with an init phase that fails reports the reason its process ended with', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    const result = await sup.startChild(
      child('init_fails', {
        start: async (ctx) =>
          (
            await ctx.startLink(() => {
              throw new Error('cannot open port');
            })
          ).pid,
      }),
    );
    expect(result).toMatchObject({
      ok: false,
      error: 'start_failed',
      reason: { error: new Error('cannot open port') },
    });
    expect(t.node.isAlive(sup.ref)).toBe(true);
  });

  it('sup_start_restart_child_returns_error: restartChild answers the start error and keeps the child stopped', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [child('child1', { start: startsOnceThenFails() })]);
    expect(await sup.terminateChild('child1')).toEqual({ ok: true });
    expect(await sup.restartChild('child1')).toEqual({ ok: false, error: 'start_failed', reason: 'start_refused' });
    expect(await sup.whichChildren()).toEqual([{ id: 'child1', pid: undefined, type: 'worker' }]);
  });

  it('a child that fails at init stops the ones already started, in reverse order, and the start fails', async () => {
    const t = testNode();
    const stopped: string[] = [];
    const recorder = (id: string): ChildSpec =>
      child(id, {
        start: (ctx) =>
          ctx.spawnLink(async (c) => {
            c.trapExit(true);
            await c.receive();
            stopped.push(id);
          }),
      });
    const start = startSupervisor(t.node, {}, [
      recorder('a'),
      recorder('b'),
      child('c', { start: () => ({ error: 'nope' }) }),
      recorder('d'),
    ]);
    await expect(start).rejects.toBeInstanceOf(StartError);
    await expect(start).rejects.toMatchObject({ reason: { shutdown: { failedToStartChild: 'c', reason: 'nope' } } });
    await expect(start).rejects.toThrow(
      /supervisor test\.\d+ failed to start: child "c" did not start \(nope\); the children started before it were stopped/,
    );
    expect(stopped).toEqual(['b', 'a']);
    expect(t.node.processes()).toEqual([]);
    expect(t.reports).toContainEqual(expect.objectContaining({ event: 'start_error', childId: 'c', reason: 'nope' }));
  });

  it('calling_self: a start function that calls its own supervisor fails that start at once, not deadlocking the supervisor', async () => {
    const t = testNode();
    const asksItsSupervisor = child('asks_sup', {
      start: async (ctx) => {
        await new SupervisorClient(ctx, 'sup').whichChildren();
        return startTestWorker(ctx);
      },
    });
    const callingSelf = { error: expect.objectContaining({ name: 'CallError', reason: 'calling_self' }) };

    const atInit = track(startSupervisor(t.node, {}, [asksItsSupervisor], { name: 'sup' }));
    await idle();
    expect(atInit.outcome, '{shutdown, {failed_to_start_child, asks_sup, …calling_self…}}').toBeInstanceOf(StartError);
    expect(atInit.outcome).toMatchObject({
      reason: { shutdown: { failedToStartChild: 'asks_sup', reason: callingSelf } },
    });
    expect((atInit.outcome as StartError).message).toMatch(/child "asks_sup" did not start \(.*calling_self/);

    const sup = await startSupervisor(t.node, {}, [], { name: 'sup' });
    const later = track(sup.startChild(asksItsSupervisor));
    await idle();
    expect(later.outcome).toEqual({ ok: false, error: 'start_failed', reason: callingSelf });
    expect(await sup.whichChildren()).toEqual([]);
  });

  it('a supervisor started from a process is linked to it and stops with the parent reason when the parent dies', async () => {
    const t = testNode();
    let supPid = '';
    let childPid = '';
    const parent = t.node.spawn(async (ctx) => {
      const sup = await startSupervisorLink(ctx, {}, [child('worker')]);
      supPid = sup.ref as string;
      childPid = await pidOf(sup, 'worker');
      await ctx.receive();
      ctx.exit('parent_gone');
    });
    await t.clock.advance(0);
    const supExit = t.node.waitExit(supPid);
    const childExit = t.node.waitExit(childPid);
    t.node.send(parent, 'go');
    expect(await supExit).toBe('parent_gone');
    expect(await childExit).toBe('shutdown');
  });

  it('a failing startSupervisorLink rejects without ending a caller that does not trap exits (OTP ends it: ADR 0003)', async () => {
    const t = testNode();
    const caller = t.node.spawn(async (ctx) => {
      const failure = await startSupervisorLink(ctx, {}, [child('c', { start: () => ({ error: 'nope' }) })]).catch(
        (error: unknown) => error,
      );
      await ctx.sleep(0);
      ctx.exit({ survived: (failure as Error).name, trapExit: ctx.trapExit(false) });
    });
    expect(await t.node.waitExit(caller)).toEqual({ survived: 'StartError', trapExit: false });
  });

  it('an exit signal from a process other than its parent is ignored', async () => {
    const t = testNode();
    let supPid = '';
    t.node.spawn(async (ctx) => {
      supPid = (await startSupervisorLink(ctx, {}, [])).ref as string;
      await ctx.receive();
    });
    await t.clock.advance(0);
    t.node.spawn((ctx) => ctx.exit(supPid, 'shutdown'));
    t.node.exit(supPid, 'shutdown');
    await t.clock.advance(0);
    expect(t.node.isAlive(supPid)).toBe(true);
  });
});

describe('flags and child spec validation', () => {
  const ignore = (): 'ignore' => 'ignore';
  const valid = child('ok');

  it.each([
    [
      { strategy: 'one_for_none' },
      'flags.strategy',
      /must be one of one_for_one, one_for_all, rest_for_one, simple_one_for_one/,
    ],
    [{ intensity: -1 }, 'flags.intensity', /integer ≥ 0/],
    [{ intensity: Number.POSITIVE_INFINITY }, 'flags.intensity', /integer ≥ 0/],
    [{ periodMs: 0 }, 'flags.periodMs', /integer > 0/],
    [{ periodMs: Number.POSITIVE_INFINITY }, 'flags.periodMs', /integer > 0/],
    [{ autoShutdown: 'sometimes' }, 'flags.autoShutdown', /never, any_significant, all_significant/],
    [{ strategy: 'simple_one_for_one', autoShutdown: 'any_significant' }, 'flags.autoShutdown', /must be never/],
    [{ intesity: 3 }, 'flags.intesity', /unknown field/],
  ])('rejects flags %j naming %s', async (flags, field, message) => {
    const t = testNode();
    const error = await startSupervisor(t.node, flags as never, [valid]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupervisorSpecError);
    expect(error).toMatchObject({ field });
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    [{}, 'children[0].id', /is missing/],
    [{ id: 'a' }, 'children[0].start', /is missing/],
    [{ id: 'a', start: 'mfa' }, 'children[0].start', /must be a function/],
    [{ id: 'a', start: ignore, restart: 'prmanent' }, 'children[0].restart', /permanent, transient, temporary/],
    [{ id: 'a', start: ignore, shutdown: -10 }, 'children[0].shutdown', /brutal_kill, infinity or an integer ≥ 0/],
    [{ id: 'a', start: ignore, type: 'wrker' }, 'children[0].type', /worker or supervisor/],
    [{ id: 'a', start: ignore, significant: 'maybe' }, 'children[0].significant', /true or false/],
    [
      { id: 'a', start: ignore, significant: true, restart: 'transient' },
      'children[0].significant',
      /autoShutdown is never/,
    ],
    [{ id: 'a', start: ignore, silly: true }, 'children[0].silly', /unknown field/],
    ['child4', 'children[0]', /must be an object/],
  ])('rejects child spec %j naming %s', async (spec, field, message) => {
    const t = testNode();
    const error = await startSupervisor(t.node, {}, [spec as never]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupervisorSpecError);
    expect(error).toMatchObject({ field });
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a significant permanent child even when autoShutdown allows significant children', async () => {
    const t = testNode();
    const spec = child('a', { significant: true, restart: 'permanent' });
    await expect(startSupervisor(t.node, { autoShutdown: 'any_significant' }, [spec])).rejects.toThrow(
      /children\[0\]\.significant: cannot be true for a permanent child/,
    );
  });

  it('rejects duplicate ids and a simple_one_for_one supervisor without exactly one spec', async () => {
    const t = testNode();
    await expect(startSupervisor(t.node, {}, [child('a'), child('a')])).rejects.toThrow(
      /children\[1\]\.id: duplicate child id "a"/,
    );
    await expect(startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [])).rejects.toThrow(
      /exactly one child spec/,
    );
    await expect(startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [child('a'), child('b')])).rejects.toThrow(
      /exactly one child spec/,
    );
  });

  it('startChild answers an invalid spec with the failing field instead of throwing', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, []);
    expect(await sup.startChild({ id: 'x', start: ignore, shutdown: -1 })).toMatchObject({
      ok: false,
      error: 'invalid_child_spec',
      field: 'spec.shutdown',
    });
    expect(await sup.startChild(child('sig', { significant: true, restart: 'temporary' }))).toMatchObject({
      ok: false,
      error: 'invalid_child_spec',
      field: 'spec.significant',
    });
    const simple = await startSupervisor(t.node, { strategy: 'simple_one_for_one' }, [child('template')]);
    expect(await simple.startChild(child('not-args'))).toMatchObject({ ok: false, field: 'args' });
  });

  it('fills in OTP defaults: permanent, 5000 for workers, infinity for supervisors, not significant', async () => {
    const t = testNode();
    const sup = await startSupervisor(t.node, {}, [
      { id: 'w', start: (ctx) => ctx.spawnLink(testWorker) },
      { id: 'b', start: (ctx) => ctx.spawnLink(testWorker), shutdown: 'brutal_kill' },
      { id: 's', start: (ctx) => ctx.spawnLink(testWorker), type: 'supervisor' },
    ]);
    expect(await sup.getChildSpec('w')).toMatchObject({
      ok: true,
      spec: { restart: 'permanent', shutdown: 5000, type: 'worker', significant: false },
    });
    expect(await sup.getChildSpec('b')).toMatchObject({ spec: { shutdown: 'brutal_kill' } });
    expect(await sup.getChildSpec('s')).toMatchObject({ spec: { shutdown: 'infinity', type: 'supervisor' } });
    expect(await sup.getChildSpec('nope')).toEqual({ ok: false, error: 'not_found' });
  });
});
