import { describe, expect, it } from 'vitest';
import {
  BadArgError,
  type DownMessage,
  type ExitMessage,
  functionModule,
  isDownMessage,
  isErrorReason,
  isExitMessage,
  type LogEntry,
  type Pid,
  type ProcessContext,
} from '../../src/index.js';
import { functions, isolatedNode, until, untilRunning } from './setup.js';

/** Spawns a green process that collects what it receives into `inbox`. */
function collector(node: ReturnType<typeof isolatedNode>['node']): { pid: Pid; inbox: unknown[] } {
  const inbox: unknown[] = [];
  const pid = node.spawn(async (ctx) => {
    for (;;) inbox.push(await ctx.receive());
  });
  return { pid, inbox };
}

describe('messages cross the thread boundary', () => {
  it('a green process and an isolated one talk both ways', async () => {
    const { node, scheduler } = isolatedNode();
    const ponger = scheduler.spawn(functions.ponger);
    const replies: unknown[] = [];
    const pongerExit = node.waitExit(ponger);
    const asker = node.spawn(async (ctx) => {
      for (const ping of [1, 2, 3]) {
        ctx.send(ponger, { from: ctx.self, ping });
        replies.push(await ctx.receive());
      }
      ctx.send(ponger, 'stop');
    });
    const askerExit = node.waitExit(asker);
    expect(await pongerExit).toBe('normal');
    expect(await askerExit).toBe('normal');
    expect(replies).toEqual([1, 2, 3].map((ping) => ({ pong: ping, by: ponger })));
  });

  it('keeps the order of 2,000 messages from one sender, including those sent before the thread started', async () => {
    const { node, scheduler } = isolatedNode();
    const sink = collector(node);
    const pid = scheduler.spawn(functions.collector, { count: 2000, to: sink.pid });
    for (let i = 0; i < 2000; i++) node.send(pid, i);
    expect(await node.waitExit(pid)).toBe('normal');
    await until(() => sink.inbox.length === 1);
    expect(sink.inbox[0]).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('selective receive takes the matching message and leaves the rest in arrival order', async () => {
    const { node, scheduler } = isolatedNode();
    const sink = collector(node);
    const pid = scheduler.spawn(functions.selective, { to: sink.pid });
    for (const message of [{ n: 1 }, { n: 2 }, { urgent: true, n: 3 }, { n: 4 }, 'go']) node.send(pid, message);
    await node.waitExit(pid);
    await until(() => sink.inbox.length === 1);
    expect(sink.inbox[0]).toEqual({ urgent: { urgent: true, n: 3 }, rest: [{ n: 1 }, { n: 2 }, { n: 4 }] });
  });

  it('messages are copies: the receiver cannot change what the sender holds', async () => {
    const { node, scheduler } = isolatedNode();
    const mutator = functionModule(
      'export default async (_i, ctx) => { const m = await ctx.receive(); m.items.push(99); ctx.send(m.from, m); };',
      'mutator',
    );
    const original = { items: [1], from: '' };
    let reply: unknown;
    node.spawn(async (ctx) => {
      const pid = scheduler.spawn(mutator);
      original.from = ctx.self;
      ctx.send(pid, original);
      reply = await ctx.receive();
    });
    await until(() => reply !== undefined);
    expect(reply).toEqual({ items: [1, 99], from: original.from });
    expect(original.items).toEqual([1]);
  });

  it('reports the queue length and the waiting status of an isolated process', async () => {
    const { node, scheduler } = isolatedNode();
    const gate = functionModule(
      "export default async (_i, ctx) => { await ctx.receive((m) => m === 'open'); await ctx.receive((m) => m === 'never'); };",
      'gate',
    );
    const pid = scheduler.spawn(gate);
    await until(() => node.processInfo(pid)?.status === 'waiting');
    node.send(pid, 'a');
    node.send(pid, 'b');
    await until(() => node.processInfo(pid)?.messageQueueLength === 2);
    node.send(pid, 'open');
    await until(() => node.processInfo(pid)?.status === 'waiting' && node.processInfo(pid)?.messageQueueLength === 2);
    expect(node.processInfo(pid)).toMatchObject({ kind: 'isolated', priority: 'normal' });
  });

  it('refuses a message that cannot be copied to another thread, with a clear error to the sender', async () => {
    const { node, scheduler } = isolatedNode();
    const pid = scheduler.spawn(functions.ponger);
    expect(() => node.send(pid, { callback: () => 1 })).toThrow(BadArgError);
    await untilRunning(node, pid);
    expect(() => node.send(pid, { callback: () => 1 })).toThrow(/cannot be copied|must be copyable/);
    expect(node.isAlive(pid)).toBe(true);
  });
});

describe('links, monitors and exit signals of isolated processes', () => {
  it('demonitor returns true, as OTP, whether or not the monitor already fired (with flush too)', async () => {
    const { scheduler } = isolatedNode();
    const watcher = functionModule(
      `export default async (_input, ctx) => {
        const dead = ctx.monitor(ctx.nodeId + '.999999');
        const fired = await ctx.receive((m) => m && m.type === 'DOWN' && m.ref === dead);
        const live = ctx.monitor(ctx.self);
        return [fired.reason, ctx.demonitor(dead), ctx.demonitor(live), ctx.demonitor(live, { flush: true })];
      };`,
      'demonitor-watcher',
    );
    const outcome = await scheduler.run(watcher);
    expect(outcome).toMatchObject({ reason: 'normal', result: ['noproc', true, true, true] });
  });

  it('a crash propagates over a link to a green process, and a trapping one gets the EXIT', async () => {
    const { node, scheduler } = isolatedNode();
    const exits: ExitMessage[] = [];
    const watcher = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      const pid = scheduler.spawnLink(ctx, functions.thrower);
      const message = await ctx.receive(isExitMessage);
      expect(message.from).toBe(pid);
      exits.push(message);
    });
    await node.waitExit(watcher);
    expect(exits).toHaveLength(1);
    expect(isErrorReason(exits[0]?.reason)).toBe(true);
  });

  it('a green process that dies takes a linked isolated process with it', async () => {
    const { node, scheduler } = isolatedNode();
    let child: Pid | undefined;
    const parent = node.spawn(async (ctx) => {
      child = scheduler.spawnLink(ctx, functions.busyLoop);
      await ctx.receive();
      ctx.exit('parent_gave_up');
    });
    await until(() => child !== undefined);
    await untilRunning(node, child as Pid);
    const childExit = node.waitExit(child as Pid);
    node.send(parent, 'go');
    expect(await childExit).toBe('parent_gave_up');
  });

  it('a monitor of an isolated process gets DOWN with its reason', async () => {
    const { node, scheduler } = isolatedNode();
    let down: DownMessage | undefined;
    node.spawn(async (ctx) => {
      const { pid, ref } = scheduler.spawnMonitor(ctx, functions.busyLoop, null, { timeoutMs: 50 });
      down = await ctx.receive(isDownMessage);
      expect(down).toEqual({ type: 'DOWN', ref, pid, reason: 'timeout' });
    });
    await until(() => down !== undefined);
  });

  it('an isolated process traps exits, links, monitors and sends exit signals through its ctx', async () => {
    const { node, scheduler } = isolatedNode();
    const sink = collector(node);
    const victim = node.spawn(async (ctx) => {
      await ctx.receive(() => false);
    });
    const linker = functionModule(
      `export default async ({ victim, sink }, ctx) => {
        ctx.trapExit(true);
        ctx.link(victim);
        const ref = ctx.monitor(victim);
        ctx.exit(victim, 'shot');
        const exit = await ctx.receive((m) => m.type === 'EXIT');
        const down = await ctx.receive((m) => m.type === 'DOWN' && m.ref === ref);
        ctx.link('${node.id}.999999');
        const noproc = await ctx.receive((m) => m.type === 'EXIT');
        ctx.send(sink, { exit, down, noproc });
      };`,
      'linker',
    );
    const pid = scheduler.spawn(linker, { victim, sink: sink.pid });
    expect(await node.waitExit(pid)).toBe('normal');
    await until(() => sink.inbox.length === 1);
    expect(sink.inbox[0]).toEqual({
      exit: { type: 'EXIT', from: victim, reason: 'shot' },
      down: { type: 'DOWN', ref: expect.any(String), pid: victim, reason: 'shot' },
      noproc: { type: 'EXIT', from: `${node.id}.999999`, reason: 'noproc' },
    });
  });

  it('linking to a dead pid without trapping exits ends the process with noproc', async () => {
    const { node, scheduler } = isolatedNode();
    const source = `export default async (_i, ctx) => { ctx.link('${node.id}.999999'); await ctx.receive(); };`;
    const outcome = await scheduler.run(functionModule(source, 'bad-link'));
    expect(outcome.reason).toBe('noproc');
  });

  it('an isolated process spawns, links to and monitors other functions by id', async () => {
    const { scheduler } = isolatedNode();
    scheduler.define(functions.echo);
    scheduler.define(functions.thrower);
    const parent = functionModule(
      `export default async (_i, ctx) => {
        const { pid, ref } = await ctx.spawnMonitor('${functions.echo.id}', 'hi');
        const down = await ctx.receive((m) => m.type === 'DOWN' && m.ref === ref);
        ctx.trapExit(true);
        const linked = await ctx.spawnLink('${functions.thrower.id}', null, { priority: 'low' });
        const exit = await ctx.receive((m) => m.type === 'EXIT' && m.from === linked);
        let unknown;
        try { await ctx.spawn('no-such-function'); } catch (error) { unknown = error.message; }
        return { echoed: down.reason, pid, thrown: exit.reason.error.message, unknown };
      };`,
      'parent',
    );
    const outcome = await scheduler.run(parent);
    expect(outcome.reason).toBe('normal');
    expect(outcome.result).toMatchObject({ echoed: 'normal', thrown: 'bad input: x' });
    expect((outcome.result as { unknown: string }).unknown).toMatch(/No function "no-such-function" is known/);
    expect(scheduler.stats().spawns).toBe(3);
  });

  it('resolves functions it does not know through resolveFunction', async () => {
    const { scheduler } = isolatedNode({
      resolveFunction: async (id) => (id === 'echo-by-name' ? functions.echo : undefined),
    });
    const parent = functionModule(
      "export default async (_i, ctx) => { const { ref } = await ctx.spawnMonitor('echo-by-name', 1); return (await ctx.receive((m) => m.ref === ref)).reason; };",
      'resolver-parent',
    );
    expect(await scheduler.run(parent)).toMatchObject({ reason: 'normal', result: 'normal' });
  });

  it('sending to a name nobody holds ends the sender with a BadArgError, as badarg would', async () => {
    const { scheduler } = isolatedNode();
    const source = "export default async (_i, ctx) => { ctx.send('nobody-has-this-name', 1); await ctx.sleep(5000); };";
    const outcome = await scheduler.run(functionModule(source, 'bad-send'));
    expect(isErrorReason(outcome.reason) && (outcome.reason.error as Error).name).toBe('BadArgError');
  });
});

describe('the function module and its ctx', () => {
  it('reports progress and logs to the spawner', async () => {
    const { scheduler } = isolatedNode();
    const progress: unknown[] = [];
    const logs: LogEntry[] = [];
    const reporter = functionModule(
      "export default async (_i, ctx) => { ctx.progress(50); ctx.log('half way'); ctx.progress({ done: 2, of: 2 }); ctx.log({ odd: true }, 'warn'); return 'ok'; };",
      'reporter',
    );
    const outcome = await scheduler.run(reporter, null, {
      onProgress: (value) => progress.push(value),
      onLog: (entry) => logs.push(entry),
    });
    expect(progress).toEqual([50, { done: 2, of: 2 }]);
    expect(logs).toEqual([
      { pid: outcome.pid, level: 'info', message: 'half way' },
      { pid: outcome.pid, level: 'warn', message: { odd: true } },
    ]);
  });

  it('aborts ctx.signal when the invocation ends, stopping what it left running', async () => {
    const { scheduler } = isolatedNode();
    const leaver = functionModule(
      `let aborted = [];
      export default async ({ check }, ctx) => {
        if (check) return aborted;
        const signal = ctx.signal;
        signal.addEventListener('abort', () => aborted.push(signal.reason.message));
        return 'left';
      };`,
      'leaver',
    );
    expect((await scheduler.run(leaver, { check: false })).result).toBe('left');
    const checked = await scheduler.run(leaver, { check: true });
    expect(checked.result).toEqual([expect.stringMatching(/exited: normal/)]);
  });

  it('a module without a default function export fails with a message that says how to fix it', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(functionModule('export const handler = () => 1;', 'no-default'));
    expect(isErrorReason(outcome.reason) && (outcome.reason.error as Error).message).toMatch(
      /must have a default export "async \(input, ctx\) => result"; its default export is undefined/,
    );
  });

  it('a module with a syntax error fails with a SyntaxError', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(functionModule('export default async (input => input;', 'broken'));
    expect(isErrorReason(outcome.reason) && (outcome.reason.error as Error).name).toBe('SyntaxError');
  });

  it('a return value that cannot leave the isolate fails the process with a TypeError that says so', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(functionModule('export default async () => () => 1;', 'returns-closure'));
    expect(isErrorReason(outcome.reason) && (outcome.reason.error as Error).message).toMatch(
      /returned a value that cannot be copied out of its sandbox/,
    );
  });

  it('refuses an input that cannot be copied at spawn, before any process exists', () => {
    const { node, scheduler } = isolatedNode();
    expect(() => scheduler.spawn(functions.echo, { fn: () => 1 })).toThrow(
      /The input cannot be copied to an isolated process/,
    );
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => scheduler.spawn(functions.echo, deep)).toThrow(BadArgError);
    expect(node.processes()).toEqual([]);
    expect(scheduler.stats().spawns).toBe(0);
  });

  it('rejects what is not a function module, and a closure in particular', () => {
    const { scheduler } = isolatedNode();
    const closure = (async () => 1) as unknown as Parameters<typeof scheduler.spawn>[0];
    expect(() => scheduler.spawn(closure)).toThrow(/isolated processes run module source, not closures/);
    expect(() => functionModule('   ')).toThrow(/non-empty string/);
    expect(() => scheduler.spawn(functions.echo, null, { priority: 'urgent' as 'high' })).toThrow(
      /options\.priority must be one of max, high, normal, low/,
    );
  });

  it('a spawnLink from a ctx of another node is refused', () => {
    const first = isolatedNode();
    const second = isolatedNode();
    let error: unknown;
    first.node.spawn((ctx: ProcessContext) => {
      try {
        second.scheduler.spawnLink(ctx, functions.echo);
      } catch (caught) {
        error = caught;
      }
    });
    return until(() => error !== undefined).then(() => expect(String(error)).toMatch(/another node/));
  });
});
