import { describe, expect, it } from 'vitest';
import { functionModule, type Pid } from '../../src/index.js';
import { childrenOf } from '../../src/isolated/os-process.js';
import { functions, isolatedNode, until } from './setup.js';

describe('warm execution environments', () => {
  it('reuses a thread for the same function version: top-level state survives between invocations', async () => {
    const { scheduler } = isolatedNode();
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await scheduler.run(functions.counter)).result);
    expect(results).toEqual([1, 2, 3]);
    expect(scheduler.stats().pool).toMatchObject({ started: 1, warm: 1 });
  });

  it('never reuses a thread after a crash', async () => {
    const { node, scheduler } = isolatedNode();
    const flaky = functionModule(
      "let calls = 0;\nexport default async ({ crash }) => { calls++; if (crash) throw new Error('boom'); return calls; };",
      'flaky',
    );
    expect((await scheduler.run(flaky, { crash: false })).result).toBe(1);
    expect((await scheduler.run(flaky, { crash: true })).reason).toMatchObject({ error: expect.any(Error) });
    expect((await scheduler.run(flaky, { crash: false })).result).toBe(1);
    expect(scheduler.stats().pool.started).toBe(2);
    expect(node.processes()).toEqual([]);
  });

  it('never reuses a thread after a kill or a limit', async () => {
    const { scheduler } = isolatedNode();
    const counterOrLoop = functionModule(
      'let calls = 0;\nexport default async ({ loop }) => { calls++; if (loop) for (;;) {} return calls; };',
      'counter-or-loop',
    );
    expect((await scheduler.run(counterOrLoop, { loop: false })).result).toBe(1);
    expect((await scheduler.run(counterOrLoop, { loop: true }, { timeoutMs: 50 })).reason).toBe('timeout');
    expect((await scheduler.run(counterOrLoop, { loop: false })).result).toBe(1);
  });

  it('does not share a warm thread between different function versions or heap limits', async () => {
    const { scheduler } = isolatedNode();
    const v1 = functionModule("let n = 0;\nexport default async () => 'v1:' + ++n;", 'versioned');
    const v2 = functionModule("let n = 0;\nexport default async () => 'v2:' + ++n;", 'versioned');
    expect((await scheduler.run(v1)).result).toBe('v1:1');
    expect((await scheduler.run(v2)).result).toBe('v2:1');
    expect((await scheduler.run(v1)).result).toBe('v1:2');
    expect((await scheduler.run(v1, null, { memoryMb: 64 })).result).toBe('v1:1');
    expect(scheduler.stats().pool.started).toBe(3);
  });

  it("keeps each tenant's share of the warm pool: one tenant cycling through functions does not push another's out", async () => {
    const { scheduler } = isolatedNode({ maxIdleThreads: 2 });
    const counter = (id: string) => functionModule('let calls = 0;\nexport default async () => ++calls;', id);
    const cycle = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await scheduler.run(counter(`attacker-fn-${i}`), undefined, { tenant: 'attacker' });
    };
    const mine = counter('victim-fn');
    const asVictim = { tenant: 'victim' };
    await cycle(0, 3);
    expect(scheduler.stats().pool.warm).toBe(2);
    // The pool is full of the attacker's sandboxes when the victim's is released.
    expect((await scheduler.run(mine, undefined, asVictim)).result).toBe(1);
    await cycle(3, 7);
    // Still warm: its module state survived, beside the attacker's releases into a full pool.
    expect((await scheduler.run(mine, undefined, asVictim)).result).toBe(2);
    expect(scheduler.stats().pool.warm).toBe(2);
  });

  it('reaps idle threads after the idle timeout', async () => {
    const { scheduler } = isolatedNode({ idleTimeoutMs: 50 });
    await scheduler.run(functions.counter);
    expect(scheduler.stats().pool.warm).toBe(1);
    await until(() => scheduler.stats().pool.warm === 0);
    expect(scheduler.stats().pool.reaped).toBe(1);
    expect((await scheduler.run(functions.counter)).result).toBe(1);
  });

  it('keeps pre-started threads to hide the cold start, and refills them', async () => {
    const { scheduler } = isolatedNode({ prestart: 2 });
    expect(scheduler.stats().pool).toMatchObject({ prestarted: 2, started: 2 });
    await scheduler.run(functions.echo, 1);
    await until(() => scheduler.stats().pool.prestarted === 2);
    expect(scheduler.stats().pool).toMatchObject({ started: 3, warm: 1 });
  });
});

describe('the run queue', () => {
  it('caps live isolated processes; the rest wait as runnable and start by priority, then arrival', async () => {
    const { node, scheduler } = isolatedNode({ maxProcesses: 1 });
    const order: string[] = [];
    const gate = scheduler.spawn(functions.ponger);
    const queued: Array<[string, Pid]> = [];
    for (const [label, priority] of [
      ['low-1', 'low'],
      ['normal-1', 'normal'],
      ['high-1', 'high'],
      ['normal-2', 'normal'],
      ['max-1', 'max'],
    ] as const) {
      queued.push([
        label,
        scheduler.spawn(functions.echo, label, { priority, onResult: (v) => order.push(v as string) }),
      ]);
    }
    expect(scheduler.stats().runQueue).toEqual({ max: 1, high: 1, normal: 2, low: 1 });
    expect(queued.map(([, pid]) => node.processInfo(pid)?.status)).toEqual(Array(5).fill('runnable'));
    expect(scheduler.stats().live).toBe(1);
    node.send(gate, 'stop');
    await Promise.all(queued.map(([, pid]) => node.waitExit(pid)));
    expect(order).toEqual(['max-1', 'high-1', 'normal-1', 'normal-2', 'low-1']);
  });

  it('a queued process can be killed, linked and sent messages before it runs', async () => {
    const { node, scheduler } = isolatedNode({ maxProcesses: 1 });
    const gate = scheduler.spawn(functions.ponger);
    const doomed = scheduler.spawn(functions.echo);
    const later = scheduler.spawn(functions.collector, { count: 2, to: node.spawn(async (ctx) => ctx.receive()) });
    node.send(later, 'first');
    node.send(later, 'second');
    expect(node.processInfo(later)?.messageQueueLength).toBe(2);
    const doomedExit = node.waitExit(doomed);
    node.exit(doomed, 'kill');
    expect(await doomedExit).toBe('killed');
    expect(scheduler.stats().runQueue.normal).toBe(1);
    node.send(gate, 'stop');
    expect(await node.waitExit(later)).toBe('normal');
  });
});

describe('cold starts', () => {
  it('spawn sandboxes asked for together one per turn of the event loop: timers run between them', async () => {
    const { scheduler } = isolatedNode();
    // A timer counts this process's children as they appear: all spawned in the turn that asked
    // for them, it would see none and then eight.
    const counts = new Set<number>();
    const ticker = setInterval(() => counts.add(childrenOf(process.pid).length), 1);
    const runs = Array.from({ length: 8 }, (_, i) =>
      scheduler.run(functionModule(`export default async () => ${i};`, `cold-${i}`)),
    );
    expect((await Promise.all(runs)).map((run) => run.result)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    clearInterval(ticker);
    expect(scheduler.stats().pool.started).toBe(8);
    const between = [...counts].filter((count) => count > 0 && count < 8);
    expect(between.length).toBeGreaterThanOrEqual(3);
  });
});
