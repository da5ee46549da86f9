import { describe, expect, it } from 'vitest';
import { BadArgError, type ExitMessage, isExitMessage, type ProcessContext, TIMEOUT } from '../src/index.js';
import { idle, linkedTo, testNode, waitForever } from './helpers.js';

/** A trapping process that exits with the first EXIT message it receives. */
async function trapOne(ctx: ProcessContext): Promise<void> {
  ctx.trapExit(true);
  const message = await ctx.receive(isExitMessage);
  ctx.exit({ trapped: message });
}

describe('exit signals (erlang:exit/2)', () => {
  it('a normal exit signal from another process is ignored by a process that does not trap exits', async () => {
    const { node } = testNode();
    const pid = node.spawn(waitForever);
    await idle();
    node.exit(pid, 'normal');
    await idle();
    expect(node.isAlive(pid)).toBe(true);
  });

  it('a trapping process receives a normal exit signal as an EXIT message', async () => {
    const { node } = testNode();
    const pid = node.spawn(trapOne);
    await idle();
    const exited = node.waitExit(pid);
    node.exit(pid, 'normal');
    expect(await exited).toEqual({ trapped: { type: 'EXIT', from: node.pid, reason: 'normal' } });
  });

  it('kill cannot be trapped: the victim ends with killed', async () => {
    const { node } = testNode();
    const pid = node.spawn(trapOne);
    await idle();
    const exited = node.waitExit(pid);
    node.exit(pid, 'kill');
    expect(await exited).toBe('killed');
  });

  it('any other reason kills a non-trapping process with that reason and reaches a trapping one as a message', async () => {
    const { node } = testNode();
    const plain = node.spawn(waitForever);
    const trapping = node.spawn(trapOne);
    await idle();
    const plainExit = node.waitExit(plain);
    const trappingExit = node.waitExit(trapping);
    node.exit(plain, { custom: 1 });
    node.exit(trapping, { custom: 1 });
    expect(await plainExit).toEqual({ custom: 1 });
    expect(await trappingExit).toEqual({ trapped: { type: 'EXIT', from: node.pid, reason: { custom: 1 } } });
  });

  it('exit(self, normal) ends a non-trapping caller normally', async () => {
    const { node } = testNode();
    let after = false;
    const pid = node.spawn(async (ctx) => {
      ctx.exit(ctx.self, 'normal');
      after = true;
    });
    expect(await node.waitExit(pid)).toBe('normal');
    expect(after).toBe(false);
  });

  it('exit(self, normal) reaches a trapping caller as an EXIT message from itself', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.exit(ctx.self, 'normal');
      ctx.exit(await ctx.receive(undefined, 0));
    });
    const reason = (await node.waitExit(pid)) as ExitMessage;
    expect(reason).toEqual({ type: 'EXIT', from: pid, reason: 'normal' });
  });

  it('exit(self, kill) ends the caller with killed, trapping or not', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.exit(ctx.self, 'kill');
    });
    expect(await node.waitExit(pid)).toBe('killed');
  });

  it('ctx.exit(reason) ends the caller with that reason; returning ends it normally', async () => {
    const { node } = testNode();
    expect(await node.waitExit(node.spawn((ctx) => ctx.exit('bye')))).toBe('bye');
    expect(await node.waitExit(node.spawn(async () => 42))).toBe('normal');
  });

  it('a process that throws or rejects dies with an error reason carrying the error', async () => {
    const { node, reports } = testNode();
    const thrown = new RangeError('boom');
    const syncThrow = node.spawn(() => {
      throw thrown;
    });
    const rejected = node.spawn(async () => Promise.reject(thrown));
    expect(await node.waitExit(syncThrow)).toEqual({ error: thrown });
    expect(await node.waitExit(rejected)).toEqual({ error: thrown });
    expect(reports.filter((r) => r.type === 'crash').map((r) => r.pid)).toEqual([syncThrow, rejected]);
  });

  it('a killed process stops at its next await: pending receive unwinds, finally runs, signal aborts', async () => {
    const { node } = testNode();
    let unwound = false;
    let signalAborted = false;
    let spawnAfterDeath: unknown;
    const observer = node.spawn(async (ctx) => ctx.exit({ received: await ctx.receive(undefined, 0) }));
    const pid = node.spawn(async (ctx) => {
      ctx.signal.addEventListener('abort', () => {
        signalAborted = true;
        ctx.send(observer, 'from an abort listener');
      });
      try {
        await ctx.receive();
      } finally {
        unwound = true;
        ctx.send(observer, 'from a finally block');
        try {
          ctx.spawn(waitForever);
        } catch (error) {
          spawnAfterDeath = error;
        }
      }
    });
    await idle();
    const exited = node.waitExit(pid);
    node.exit(pid, 'kill');
    expect(await exited).toBe('killed');
    await idle();
    expect(unwound).toBe(true);
    expect(signalAborted).toBe(true);
    expect(spawnAfterDeath).toMatchObject({ name: 'ProcessExit', reason: 'killed' });
    expect(node.processInfo(observer)).toBeUndefined();
  });

  it('after death, ctx sends nothing and receive never settles, so a catch-all loop parks instead of spinning', async () => {
    const { node } = testNode();
    let iterations = 0;
    const pid = node.spawn(async (ctx) => {
      for (;;) {
        try {
          await ctx.receive();
        } catch {
          // swallows even the kill
        }
        iterations++;
        if (iterations > 1000) throw new Error('spinning');
      }
    });
    await idle();
    const exited = node.waitExit(pid);
    node.exit(pid, 'kill');
    expect(await exited).toBe('killed');
    await idle();
    expect(iterations).toBe(1);
  });

  it('exit(pid, reason) and link(pid) refuse a name instead of a pid, saying to use whereis', async () => {
    const { node } = testNode();
    node.spawn(waitForever, { name: 'srv' });
    const exits = [node.spawn((ctx) => ctx.exit('srv', 'kill')), node.spawn((ctx) => ctx.link('srv'))].map((pid) =>
      node.waitExit(pid),
    );
    for (const exited of exits) {
      const reason = (await exited) as { error: Error };
      expect(reason.error).toBeInstanceOf(BadArgError);
      expect(reason.error.message).toMatch(/expects a pid .* use whereis\(name\) first/);
    }
    expect(node.whereis('srv')).toBeDefined();
  });
});

describe('links', () => {
  it('an abnormal exit kills linked non-trapping processes, in both directions', async () => {
    const { node } = testNode();
    const a = node.spawn(waitForever);
    const b = node.spawn(linkedTo(a));
    await idle();
    const aExit = node.waitExit(a);
    node.exit(b, 'boom');
    expect(await aExit).toBe('boom');

    const c = node.spawn(waitForever);
    const d = node.spawn(linkedTo(c));
    await idle();
    const dExit = node.waitExit(d);
    node.exit(c, 'boom');
    expect(await dExit).toBe('boom');
  });

  it('a normal exit of a linked process does not affect a non-trapping process', async () => {
    const { node } = testNode();
    const parent = node.spawn(async (ctx) => {
      ctx.spawnLink(() => undefined);
      await ctx.receive();
    });
    await idle();
    await idle();
    expect(node.isAlive(parent)).toBe(true);
    expect(node.processInfo(parent)?.links).toEqual([]);
  });

  it('a trapping process receives EXIT messages for linked exits, normal ones included', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      const normal = ctx.spawnLink(() => undefined);
      const crashing = ctx.spawnLink(() => {
        throw new Error('x');
      });
      const exits = [await ctx.receive(isExitMessage), await ctx.receive(isExitMessage)];
      const reasonOf = (from: string) => exits.find((e) => e.from === from)?.reason;
      ctx.exit({ normal: reasonOf(normal), crashed: reasonOf(crashing) });
    });
    expect(await node.waitExit(pid)).toEqual({ normal: 'normal', crashed: { error: new Error('x') } });
  });

  it('killed travels along links as an ordinary (trappable) reason', async () => {
    const { node } = testNode();
    const victim = node.spawn(waitForever);
    const trapping = node.spawn(async (ctx) => {
      ctx.link(victim);
      await trapOne(ctx);
    });
    const plain = node.spawn(linkedTo(victim));
    await idle();
    const trapped = node.waitExit(trapping);
    const plainExit = node.waitExit(plain);
    node.exit(victim, 'kill');
    expect(await trapped).toEqual({ trapped: { type: 'EXIT', from: victim, reason: 'killed' } });
    expect(await plainExit).toBe('killed');
  });

  it('a process that exits with reason kill sends kill along links, which a trapping process can trap', async () => {
    const { node } = testNode();
    const dier = node.spawn(async (ctx) => {
      await ctx.receive();
      ctx.exit('kill');
    });
    const trapping = node.spawn(async (ctx) => {
      ctx.link(dier);
      await trapOne(ctx);
    });
    const plain = node.spawn(linkedTo(dier));
    await idle();
    const trapped = node.waitExit(trapping);
    const plainExit = node.waitExit(plain);
    node.send(dier, 'go');
    expect(await trapped).toEqual({ trapped: { type: 'EXIT', from: dier, reason: 'kill' } });
    expect(await plainExit).toBe('kill');
  });

  it('linking to a dead pid kills a non-trapping caller with noproc', async () => {
    const { node } = testNode();
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    const pid = node.spawn(linkedTo(dead));
    expect(await node.waitExit(pid)).toBe('noproc');
  });

  it('linking to a dead pid raises noproc in the caller, which can catch it (link/1 fails)', async () => {
    const { node } = testNode();
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    const pid = node.spawn(async (ctx) => {
      try {
        ctx.link(dead);
      } catch (error) {
        ctx.exit({ caught: (error as { reason: unknown }).reason });
      }
    });
    expect(await node.waitExit(pid)).toEqual({ caught: 'noproc' });
  });

  it('linking to a dead pid gives a trapping caller an EXIT message with noproc', async () => {
    const { node } = testNode();
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    const pid = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(dead);
      ctx.exit(await ctx.receive(isExitMessage));
    });
    expect(await node.waitExit(pid)).toEqual({ type: 'EXIT', from: dead, reason: 'noproc' });
  });

  it('unlink removes the link on both sides', async () => {
    const { node } = testNode();
    const other = node.spawn(waitForever);
    const pid = node.spawn(async (ctx) => {
      ctx.link(other);
      ctx.unlink(other);
      await ctx.receive();
    });
    await idle();
    expect(node.processInfo(other)?.links).toEqual([]);
    node.exit(other, 'boom');
    await idle();
    expect(node.isAlive(pid)).toBe(true);
  });

  it('a message sent before an exit arrives before the EXIT message it causes', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.spawnLink(async (child) => {
        child.send(ctx.self, 'last words');
        throw new Error('crash');
      });
      const first = await ctx.receive();
      const second = await ctx.receive();
      ctx.exit([first, isExitMessage(second) ? 'EXIT' : second]);
    });
    expect(await node.waitExit(pid)).toEqual(['last words', 'EXIT']);
  });

  it('a chain of 20,000 linked processes dies from one end without exhausting the stack', async () => {
    const { node } = testNode();
    const chain: string[] = [node.spawn(waitForever)];
    for (let i = 1; i < 20_000; i++) {
      const previous = chain[i - 1] as string;
      chain.push(node.spawn(linkedTo(previous)));
    }
    await idle();
    const last = node.waitExit(chain.at(-1) as string);
    node.exit(chain[0] as string, 'boom');
    expect(await last).toBe('boom');
    expect(node.processes()).toEqual([]);
  });
});

describe('monitors', () => {
  it('delivers DOWN with the ref, the pid and the reason', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      const { pid: child, ref } = ctx.spawnMonitor((child) => child.exit('because'));
      const down = await ctx.receive();
      ctx.exit({ down, child, ref });
    });
    const { down, child, ref } = (await node.waitExit(pid)) as { down: unknown; child: string; ref: string };
    expect(down).toEqual({ type: 'DOWN', ref, pid: child, reason: 'because' });
  });

  it('monitoring a dead pid gives DOWN with noproc at once', async () => {
    const { node } = testNode();
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    const pid = node.spawn(async (ctx) => {
      const ref = ctx.monitor(dead);
      ctx.exit({ ref, down: await ctx.receive(undefined, 0) });
    });
    const { ref, down } = (await node.waitExit(pid)) as { ref: string; down: unknown };
    expect(down).toEqual({ type: 'DOWN', ref, pid: dead, reason: 'noproc' });
  });

  it('monitors are one-way: the watcher survives the target and the target survives the watcher', async () => {
    const { node } = testNode();
    const target = node.spawn(waitForever);
    const watcher = node.spawn(async (ctx) => {
      ctx.monitor(target);
      await ctx.receive(() => false);
    });
    await idle();
    node.exit(watcher, 'boom');
    await idle();
    expect(node.isAlive(target)).toBe(true);
    expect(node.processInfo(target)?.monitoredBy).toEqual([]);
  });

  it('demonitor stops the DOWN; with flush it also removes a DOWN already queued', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      const a = ctx.spawn(waitForever);
      const refA = ctx.monitor(a);
      const removed = ctx.demonitor(refA);
      ctx.exit(a, 'kill');
      const b = ctx.spawn(() => undefined);
      const refB = ctx.monitor(b);
      await ctx.sleep(0);
      const queuedBefore = (await ctx.receive(undefined, 0)) !== undefined;
      ctx.send(ctx.self, 'marker');
      const c = ctx.spawn(() => undefined);
      const refC = ctx.monitor(c);
      await ctx.sleep(0);
      const removedAfterFire = ctx.demonitor(refC, { flush: true });
      const next = await ctx.receive(undefined, 0);
      ctx.exit({ removed, queuedBefore, refB, removedAfterFire, next });
    });
    const result = (await node.waitExit(pid)) as Record<string, unknown>;
    expect(result).toMatchObject({ removed: true, queuedBefore: true, removedAfterFire: true, next: 'marker' });
  });

  it('demonitor/2: returns true even when the monitor already fired or never existed; the info option tells which', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      const active = ctx.monitor(ctx.spawn(waitForever));
      const firedA = ctx.monitor(ctx.spawn(() => undefined));
      const firedB = ctx.monitor(ctx.spawn(() => undefined));
      await ctx.sleep(0);
      ctx.exit({
        activeWithInfo: ctx.demonitor(active, { info: true }),
        fired: ctx.demonitor(firedA, { flush: true }),
        firedWithInfo: ctx.demonitor(firedB, { flush: true, info: true }),
        unknown: ctx.demonitor('test:none'),
        unknownWithInfo: ctx.demonitor('test:none', { info: true }),
        queued: await ctx.receive(undefined, 0),
      });
    });
    expect(await node.waitExit(pid)).toEqual({
      activeWithInfo: true,
      fired: true,
      firedWithInfo: false,
      unknown: true,
      unknownWithInfo: false,
      queued: TIMEOUT,
    });
  });

  it('monitoring a registered name watches the process behind it', async () => {
    const { node } = testNode();
    const named = node.spawn(waitForever, { name: 'db' });
    const pid = node.spawn(async (ctx) => {
      ctx.monitor('db');
      ctx.exit(await ctx.receive());
    });
    await idle();
    node.exit(named, 'gone');
    expect(await node.waitExit(pid)).toMatchObject({ type: 'DOWN', pid: named, reason: 'gone' });
  });
});

describe('trapExit flag', () => {
  it('returns the previous setting, as process_flag(trap_exit, _) does', async () => {
    const { node } = testNode();
    const pid = node.spawn((ctx) => ctx.exit([ctx.trapExit(true), ctx.trapExit(false), ctx.trapExit(false)]));
    expect(await node.waitExit(pid)).toEqual([false, true, false]);
  });
});
