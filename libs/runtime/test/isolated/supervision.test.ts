import { describe, expect, it } from 'vitest';
import { type ChildInfo, isolatedChild, type Pid, startSupervisor } from '../../src/index.js';
import { functions, isolatedNode, until, untilRunning } from './setup.js';

const pidOf = (children: ChildInfo[], id: string): Pid => {
  const pid = children.find((c) => c.id === id)?.pid;
  if (typeof pid !== 'string' || pid === 'restarting') throw new Error(`child ${id} has no pid`);
  return pid;
};

describe('supervision of isolated children', () => {
  it('restarts an isolated worker that crashed, as a new isolated process', async () => {
    const { node, scheduler } = isolatedNode();
    const supervisor = await startSupervisor(node, { strategy: 'one_for_one', intensity: 3 }, [
      isolatedChild(scheduler, 'worker', functions.crashOnDemand),
    ]);
    const first = pidOf(await supervisor.whichChildren(), 'worker');
    expect(node.processInfo(first)?.kind).toBe('isolated');
    const crashed = node.waitExit(first);
    node.send(first, 'crash');
    expect(await crashed).toMatchObject({ error: expect.objectContaining({ message: 'crashed on demand' }) });
    await until(() => node.isAlive(first) === false);
    const restarted = pidOf(await supervisor.whichChildren(), 'worker');
    expect(restarted).not.toBe(first);
    expect(node.processInfo(restarted)?.kind).toBe('isolated');
    expect(node.isAlive(supervisor.ref)).toBe(true);
  });

  it('kills an isolated worker that ignores shutdown once its shutdown time has passed', async () => {
    const { node, scheduler } = isolatedNode();
    const supervisor = await startSupervisor(node, {}, [
      isolatedChild(scheduler, 'stubborn', functions.stubborn, null, { shutdown: 200 }),
    ]);
    const pid = pidOf(await supervisor.whichChildren(), 'stubborn');
    await until(() => node.processInfo(pid)?.trapExit === true && node.processInfo(pid)?.status === 'waiting');
    const exited = node.waitExit(pid);
    const started = performance.now();
    expect(await supervisor.terminateChild('stubborn')).toEqual({ ok: true });
    expect(await exited).toBe('killed');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('a non-trapping isolated worker stops at once on shutdown, even in a busy loop', async () => {
    const { node, scheduler } = isolatedNode();
    const supervisor = await startSupervisor(node, {}, [
      isolatedChild(scheduler, 'busy', functions.busyLoop, null, { shutdown: 5000 }),
    ]);
    const pid = pidOf(await supervisor.whichChildren(), 'busy');
    await untilRunning(node, pid);
    const exited = node.waitExit(pid);
    expect(await supervisor.terminateChild('busy')).toEqual({ ok: true });
    expect(await exited).toBe('shutdown');
  });

  it('a one_for_all restart kills the isolated siblings and starts them again', async () => {
    const { node, scheduler } = isolatedNode();
    const supervisor = await startSupervisor(node, { strategy: 'one_for_all', intensity: 3 }, [
      isolatedChild(scheduler, 'a', functions.crashOnDemand),
      isolatedChild(scheduler, 'b', functions.busyLoop),
    ]);
    const before = await supervisor.whichChildren();
    const [a, b] = [pidOf(before, 'a'), pidOf(before, 'b')];
    await untilRunning(node, b);
    const siblingExit = node.waitExit(b);
    node.send(a, 'crash');
    expect(await siblingExit).toBe('shutdown');
    await until(() => !node.isAlive(a));
    const after = await supervisor.whichChildren();
    expect(pidOf(after, 'a')).not.toBe(a);
    expect(pidOf(after, 'b')).not.toBe(b);
    expect(scheduler.stats().exits).toMatchObject({ error: 1, shutdown: 1 });
  });
});
