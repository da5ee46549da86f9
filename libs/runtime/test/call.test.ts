import { describe, expect, it } from 'vitest';
import { CallError, isCallMessage, type ProcessContext } from '../src/index.js';
import { idle, testNode } from './helpers.js';

async function adder(ctx: ProcessContext): Promise<void> {
  let total = 0;
  for (;;) {
    const message = await ctx.receive(isCallMessage);
    total += message.request as number;
    ctx.reply(message.from, total);
  }
}

describe('call and reply', () => {
  it('a caller gets the server reply, from a process or from outside', async () => {
    const { node } = testNode();
    const server = node.spawn(adder, { name: 'adder' });
    expect(await node.call(server, 2)).toBe(2);
    const client = node.spawn(async (ctx) => ctx.exit(await ctx.call('adder', 3)));
    expect(await node.waitExit(client)).toBe(5);
  });

  it('calling a dead pid or an unknown name fails with noproc', async () => {
    const { node } = testNode();
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    await expect(node.call(dead, 1)).rejects.toMatchObject({ name: 'CallError', reason: 'noproc' });
    await expect(node.call('nobody', 1)).rejects.toBeInstanceOf(CallError);
  });

  it('calling_self: a call to oneself, by pid or by registered name, fails at once and leaves no request behind (gen:call)', async () => {
    const { node } = testNode();
    const pid = node.spawn(
      async (ctx) => {
        const failures: unknown[] = [];
        for (const target of [ctx.self, 'me']) {
          try {
            await ctx.call(target, 'ping');
          } catch (error) {
            failures.push({ name: (error as Error).name, reason: (error as CallError).reason });
          }
        }
        ctx.exit({ failures, queued: await ctx.receive(undefined, 0) });
      },
      { name: 'me' },
    );
    const exited = node.waitExit(pid);
    await idle();
    expect(node.isAlive(pid), 'no wait for the timeout').toBe(false);
    const result = (await exited) as { failures: unknown[]; queued: unknown };
    expect(result.failures).toEqual([
      { name: 'CallError', reason: 'calling_self' },
      { name: 'CallError', reason: 'calling_self' },
    ]);
    expect(result.queued).toBeTypeOf('symbol');
  });

  it('a server that dies during the call fails the call with its exit reason', async () => {
    const { node } = testNode();
    const server = node.spawn(async (ctx) => {
      await ctx.receive(isCallMessage);
      ctx.exit('crashed_mid_call');
    });
    await expect(node.call(server, 1)).rejects.toMatchObject({ reason: 'crashed_mid_call' });
  });

  it('a call times out, and the reply that comes later is dropped instead of filling the mailbox', async () => {
    const { node, clock } = testNode();
    const server = node.spawn(async (ctx) => {
      const message = await ctx.receive(isCallMessage);
      await ctx.sleep(2000);
      ctx.reply(message.from, 'late');
    });
    const client = node.spawn(async (ctx) => {
      try {
        await ctx.call(server, 'slow', 1000);
      } catch (error) {
        await ctx.receive((m) => m === 'check');
        ctx.exit({ error: (error as CallError).reason, queued: await ctx.receive(undefined, 0) });
      }
    });
    const exited = node.waitExit(client);
    await clock.advance(2500);
    await idle();
    node.send(client, 'check');
    expect(await exited).toMatchObject({ error: 'timeout' });
    expect(((await exited) as { queued: unknown }).queued).toBeTypeOf('symbol');
  });
});
