import { describe, expect, it } from 'vitest';
import { type ExitReason, isErrorReason } from '../../src/index.js';
import { functions, isolatedNode, untilRunning } from './setup.js';

function errorOf(reason: ExitReason): Error & { fault?: string } {
  if (!isErrorReason(reason)) throw new Error(`expected an { error } reason, got ${String(reason)}`);
  return reason.error as Error;
}

describe('faults stay inside the isolated process', () => {
  const catalogue: Array<{
    fault: string;
    module: (typeof functions)[keyof typeof functions];
    memoryMb?: number;
    check: (reason: ExitReason) => void;
  }> = [
    {
      fault: 'a throw',
      module: functions.thrower,
      check: (reason) => {
        const error = errorOf(reason);
        expect(error.name).toBe('TypeError');
        expect(error.message).toBe('bad input: x');
        expect(error.stack).toContain('beamline-function:thrower@');
      },
    },
    {
      fault: 'a rejected promise',
      module: functions.rejecter,
      check: (reason) => expect(errorOf(reason).message).toBe('rejected on purpose'),
    },
    {
      fault: 'process.exit() called by the function (the job runtime has no process)',
      module: functions.processExit,
      check: (reason) => {
        expect(errorOf(reason).name).toBe('ReferenceError');
        expect(errorOf(reason).message).toBe('process is not defined');
      },
    },
    {
      fault: 'a stack overflow',
      module: functions.stackOverflow,
      check: (reason) => {
        expect(errorOf(reason).name).toBe('RangeError');
        expect(errorOf(reason).message).toMatch(/call stack size exceeded/);
      },
    },
    {
      fault: 'an unhandled rejection in a timer callback',
      module: functions.timerRejection,
      check: (reason) => {
        expect(reason).toMatchObject({ fault: 'unhandled_rejection' });
        expect(errorOf(reason).message).toBe('rejected in a timer');
      },
    },
    {
      fault: 'running out of memory',
      module: functions.allocator,
      memoryMb: 32,
      check: (reason) => expect(reason).toBe('memory_limit'),
    },
  ];

  it.each(catalogue)(
    '$fault ends the process with a reason that says so; the node goes on',
    async (entry) => {
      const { node, scheduler, reports } = isolatedNode();
      const bystander = scheduler.spawn(functions.ponger);
      const outcome = await scheduler.run(entry.module, null, entry.memoryMb ? { memoryMb: entry.memoryMb } : {});
      entry.check(outcome.reason);
      expect(reports).toContainEqual(expect.objectContaining({ type: 'crash', pid: outcome.pid }));

      expect(node.isAlive(bystander)).toBe(true);
      const after = await scheduler.run(functions.echo, { still: 'working' });
      expect(after).toMatchObject({ reason: 'normal', result: { still: 'working' } });
      expect(node.isAlive(bystander)).toBe(true);
    },
    20_000,
  );
});

describe('limits', () => {
  it('a wall-clock timeout kills a synchronous infinite loop with reason timeout', async () => {
    const { scheduler } = isolatedNode();
    const started = performance.now();
    const outcome = await scheduler.run(functions.busyLoop, null, { timeoutMs: 100 });
    expect(outcome.reason).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(3000);
    expect(scheduler.stats().exits.timeout).toBe(1);
  });

  it('a CPU limit kills a busy loop with reason cpu_limit once it has used that much CPU', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(functions.busyLoop, null, { cpuMs: 80 });
    expect(outcome.reason).toBe('cpu_limit');
    expect(scheduler.stats().cpuSecondsByPriority.normal).toBeGreaterThanOrEqual(0.08);
  });

  it('a CPU limit does not count time spent waiting', async () => {
    const { scheduler } = isolatedNode();
    const source = "export default async (_input, ctx) => { await ctx.sleep(300); return 'slept'; };";
    const { functionModule } = await import('../../src/index.js');
    const outcome = await scheduler.run(functionModule(source, 'sleeper'), null, { cpuMs: 50 });
    expect(outcome).toMatchObject({ reason: 'normal', result: 'slept' });
  });

  it('the wall-clock timeout counts from the start of the run, not the wait for a slot', async () => {
    const { node, scheduler } = isolatedNode({ maxProcesses: 1 });
    const first = scheduler.spawn(functions.spin, { ms: 300 });
    const second = scheduler.spawn(functions.echo, 'queued', { timeoutMs: 200 });
    expect(node.processInfo(second)?.status).toBe('runnable');
    expect(await node.waitExit(first)).toBe('normal');
    expect(await node.waitExit(second)).toBe('normal');
  });

  it('kill from anyone ends a busy loop with reason killed', async () => {
    const { node, scheduler } = isolatedNode();
    const pid = scheduler.spawn(functions.busyLoop);
    await untilRunning(node, pid);
    const exited = node.waitExit(pid);
    node.exit(pid, 'kill');
    expect(await exited).toBe('killed');
    expect(scheduler.stats().live).toBe(0);
  });

  it('any other exit signal ends a process that does not trap exits, even mid-loop', async () => {
    const { node, scheduler } = isolatedNode();
    const pid = scheduler.spawn(functions.busyLoop);
    await untilRunning(node, pid);
    const exited = node.waitExit(pid);
    node.exit(pid, 'cancelled');
    expect(await exited).toBe('cancelled');
  });

  it('rejects limits that make no sense, naming the option', () => {
    const { scheduler } = isolatedNode();
    expect(() => scheduler.spawn(functions.echo, null, { timeoutMs: -1 })).toThrow(/options\.timeoutMs must be/);
    expect(() => scheduler.spawn(functions.echo, null, { cpuMs: Number.NaN })).toThrow(/options\.cpuMs must be/);
    expect(() => scheduler.spawn(functions.echo, null, { memoryMb: 4 })).toThrow(/options\.memoryMb must be .* ≥ 16/);
    expect(scheduler.stats().spawns).toBe(0);
  });
});
