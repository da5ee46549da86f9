import { describe, expect, it } from 'vitest';
import { BadArgError, TIMEOUT } from '../src/index.js';
import { idle, testNode, waitForever } from './helpers.js';

describe('messages and receive', () => {
  it('delivers messages from one sender to one receiver in the order they were sent', async () => {
    const { node } = testNode();
    const received: unknown[] = [];
    const receiver = node.spawn(async (ctx) => {
      for (let i = 0; i < 100; i++) received.push(await ctx.receive());
    });
    node.spawn(async (ctx) => {
      for (let i = 0; i < 100; i++) ctx.send(receiver, i);
    });
    expect(await node.waitExit(receiver)).toBe('normal');
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('selective receive takes the first matching message and leaves the others in order', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      await ctx.receive((m) => m === 'go');
      const picked = await ctx.receive((m) => typeof m === 'number' && m > 1);
      const rest = [await ctx.receive(), await ctx.receive(), await ctx.receive()];
      ctx.exit({ picked, rest });
    });
    for (const m of ['a', 1, 2, 3, 'go']) node.send(pid, m);
    expect(await node.waitExit(pid)).toEqual({ picked: 2, rest: ['a', 1, 3] });
  });

  it('a message that arrives while the receiver waits and does not match stays queued', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      const first = await ctx.receive((m) => m === 'wanted');
      ctx.exit({ first, queued: await ctx.receive(undefined, 0) });
    });
    await idle();
    node.send(pid, 'unwanted');
    await idle();
    expect(node.processInfo(pid)?.status).toBe('waiting');
    expect(node.processInfo(pid)?.messageQueueLength).toBe(1);
    node.send(pid, 'wanted');
    expect(await node.waitExit(pid)).toEqual({ first: 'wanted', queued: 'unwanted' });
  });

  it('receive with timeout 0 polls: a queued message, or TIMEOUT at once', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      const empty = await ctx.receive(undefined, 0);
      ctx.send(ctx.self, 'x');
      const full = await ctx.receive(undefined, 0);
      ctx.exit({ empty: empty === TIMEOUT, full });
    });
    expect(await node.waitExit(pid)).toEqual({ empty: true, full: 'x' });
  });

  it('receive times out after the given time and not before', async () => {
    const { node, clock } = testNode();
    const pid = node.spawn(async (ctx) => {
      const result = await ctx.receive(undefined, 1000);
      ctx.exit(result === TIMEOUT ? 'timed_out' : 'got_message');
    });
    const exited = node.waitExit(pid);
    await clock.advance(999);
    expect(node.isAlive(pid)).toBe(true);
    await clock.advance(1);
    expect(await exited).toBe('timed_out');
  });

  it('a message that arrives before the timeout cancels it', async () => {
    const { node, clock } = testNode();
    const pid = node.spawn(async (ctx) => {
      const first = await ctx.receive(undefined, 1000);
      const second = await ctx.receive(undefined, 5000);
      ctx.exit({ first, second: second === TIMEOUT ? 'timeout' : second });
    });
    const exited = node.waitExit(pid);
    await clock.advance(500);
    node.send(pid, 'hello');
    await clock.advance(4999);
    expect(node.isAlive(pid)).toBe(true);
    await clock.advance(1);
    expect(await exited).toEqual({ first: 'hello', second: 'timeout' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('receive without a timeout waits forever', async () => {
    const { node, clock } = testNode();
    const pid = node.spawn(waitForever);
    await clock.advance(24 * 3600 * 1000);
    expect(node.processInfo(pid)?.status).toBe('waiting');
  });

  it('sleep lets messages queue up and wakes after its time', async () => {
    const { node, clock } = testNode();
    const pid = node.spawn(async (ctx) => {
      await ctx.sleep(100);
      ctx.exit(await ctx.receive());
    });
    const exited = node.waitExit(pid);
    await idle();
    node.send(pid, 'during sleep');
    await clock.advance(100);
    expect(await exited).toBe('during sleep');
  });

  it('a matcher that throws crashes the receiver with that error', async () => {
    const { node } = testNode();
    const boom = new Error('bad matcher');
    const pid = node.spawn(async (ctx) => {
      await ctx.receive(() => {
        throw boom;
      });
    });
    await idle();
    node.send(pid, 1);
    expect(await node.waitExit(pid)).toEqual({ error: boom });
  });

  it('sending to a registered name reaches its holder; to an unknown name is a clear error', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => ctx.exit(await ctx.receive()), { name: 'echo' });
    node.send('echo', 'by name');
    expect(await node.waitExit(pid)).toBe('by name');
    expect(() => node.send('nobody', 1)).toThrow(BadArgError);
    expect(() => node.send('nobody', 1)).toThrow(/No process is registered as "nobody"/);
  });

  it('a message is passed by reference, not copied as on the BEAM: a mutation after send is visible (ADR 0002)', async () => {
    const { node } = testNode();
    const receiver = node.spawn(async (ctx) => {
      const message = await ctx.receive<{ count: number }>();
      await ctx.receive((m) => m === 'look');
      ctx.exit(message.count);
    });
    node.spawn((ctx) => {
      const message = { count: 1 };
      ctx.send(receiver, message);
      message.count = 2;
      ctx.send(receiver, 'look');
    });
    expect(await node.waitExit(receiver)).toBe(2);
  });

  it('a message to a dead pid is dropped without error', async () => {
    const { node } = testNode();
    const pid = node.spawn(() => undefined);
    await node.waitExit(pid);
    expect(() => node.send(pid, 'lost')).not.toThrow();
  });

  it('rejects invalid receive arguments with a message that says what to pass', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      await ctx.receive(undefined, -5);
    });
    const reason = await node.waitExit(pid);
    expect(reason).toMatchObject({ error: expect.any(BadArgError) });
    expect(String((reason as { error: Error }).error.message)).toMatch(
      /receive timeout must be a number of milliseconds ≥ 0/,
    );
  });
});
