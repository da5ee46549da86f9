import { describe, expect, it } from 'vitest';
import { isCallMessage, isExitMessage, type ProcessContext, startSupervisor, TIMEOUT } from '../src/index.js';
import { idle, linkedTo, testNode, waitForever } from './helpers.js';

async function echoServer(ctx: ProcessContext): Promise<void> {
  for (;;) {
    const message = await ctx.receive(isCallMessage);
    ctx.reply(message.from, message.request);
  }
}

describe('a process waiting in several receives at once', () => {
  it('concurrent calls from one process each get their own reply', async () => {
    const { node } = testNode();
    const a = node.spawn(echoServer);
    const b = node.spawn(echoServer);
    const client = node.spawn(async (ctx) => ctx.exit(await Promise.all([ctx.call(a, 'to a'), ctx.call(b, 'to b')])));
    expect(await node.waitExit(client)).toEqual(['to a', 'to b']);
  });

  it('a message goes to the earliest pending receive that accepts it; timeouts are per receive', async () => {
    const { node, clock } = testNode();
    const pid = node.spawn(async (ctx) => {
      const hello = ctx.receive((m) => m === 'hello');
      const anything = ctx.receive(undefined, 100);
      const [first, second] = await Promise.all([hello, ctx.sleep(50).then(() => anything)]);
      ctx.exit({ first, second: second === TIMEOUT ? 'timeout' : second });
    });
    const exited = node.waitExit(pid);
    await idle();
    node.send(pid, 'hello');
    await clock.advance(100);
    expect(await exited).toEqual({ first: 'hello', second: 'timeout' });
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('failures around signal delivery', () => {
  it('an exit listener that throws is reported and does not stop other signals', async () => {
    const { node, reports } = testNode();
    const a = node.spawn(waitForever);
    const watcher = node.spawn(async (ctx) => {
      ctx.monitor(a);
      ctx.exit(await ctx.receive());
    });
    await idle();
    node.kernel.onExit(a, () => {
      throw new Error('listener bug');
    });
    const watcherExit = node.waitExit(watcher);
    node.exit(a, 'kill');
    expect(await watcherExit).toMatchObject({ type: 'DOWN', pid: a, reason: 'killed' });
    expect(reports).toContainEqual({
      type: 'callback_error',
      context: 'exit listener',
      error: new Error('listener bug'),
    });
  });

  it('waitExit called while a process is ending still gets its real reason', async () => {
    const { node } = testNode();
    const a = node.spawn(waitForever);
    const b = node.spawn(linkedTo(a));
    await idle();
    let seenForB: Promise<unknown> = Promise.resolve();
    node.kernel.onExit(a, () => {
      seenForB = node.waitExit(b);
    });
    node.exit(a, 'boom');
    await idle();
    expect(await seenForB).toBe('boom');
  });

  it('exits with arbitrary string reasons are counted under a small fixed set of labels', async () => {
    const { node } = testNode();
    for (let i = 0; i < 50; i++) await node.waitExit(node.spawn((ctx) => ctx.exit(`job ${i} failed`)));
    await node.waitExit(node.spawn((ctx) => ctx.exit('timeout')));
    expect(node.stats().exits).toEqual({ other: 50, timeout: 1 });
  });

  it('a second reply to the same call is dropped on delivery', async () => {
    const { node } = testNode();
    const server = node.spawn(async (ctx) => {
      const message = await ctx.receive(isCallMessage);
      ctx.reply(message.from, 1);
      ctx.reply(message.from, 2);
    });
    const client = node.spawn(async (ctx) => {
      const value = await ctx.call(server, 'x');
      await ctx.sleep(0);
      ctx.exit({ value, left: await ctx.receive(undefined, 0) });
    });
    expect(await node.waitExit(client)).toEqual({ value: 1, left: TIMEOUT });
  });
});

describe('startLink failures', () => {
  it('a child that fails before ready leaves no EXIT behind and does not kill a non-trapping parent', async () => {
    const { node } = testNode();
    const failing = () => {
      throw new Error('init failed');
    };
    const trapping = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      const error = await ctx.startLink(failing).catch((e: unknown) => e);
      await ctx.sleep(0);
      ctx.exit({ error: (error as Error).name, leftover: await ctx.receive(isExitMessage, 0) });
    });
    expect(await node.waitExit(trapping)).toEqual({ error: 'StartError', leftover: TIMEOUT });
    const plain = node.spawn(async (ctx) => {
      const error = await ctx.startLink(failing).catch((e: unknown) => e);
      ctx.exit({ survived: (error as Error).name });
    });
    expect(await node.waitExit(plain)).toEqual({ survived: 'StartError' });
  });
});

describe('supervisor edge cases', () => {
  it('a supervisor killed while a child start is in progress reports nothing after its death', async () => {
    const { node, clock, reports } = testNode();
    let starts = 0;
    const sup = await startSupervisor(node, {}, [
      {
        id: 'slow',
        start: async (ctx) => {
          if (++starts > 1) await ctx.sleep(1000);
          return ctx.spawnLink(waitForever);
        },
      },
    ]);
    const [child] = await sup.whichChildren();
    node.exit(child?.pid as string, 'kill');
    await clock.advance(10);
    const supExit = node.waitExit(sup.ref);
    node.exit(sup.ref, 'kill');
    expect(await supExit).toBe('killed');
    await clock.advance(2000);
    expect(reports.filter((r) => r.type === 'supervisor' && r.event === 'start_error')).toEqual([]);
  });

  it('already_started_outside_supervisor: a child whose name is held elsewhere answers already_started', async () => {
    const { node } = testNode();
    const outsider = node.spawn(waitForever, { name: 'db' });
    const sup = await startSupervisor(node, {}, []);
    const result = await sup.startChild({ id: 'db', start: (ctx) => ctx.spawnLink(waitForever, { name: 'db' }) });
    expect(result).toEqual({ ok: false, error: 'already_started', pid: outsider });
  });
});
