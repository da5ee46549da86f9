import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BadArgError, functionModule, systemClock } from '../../src/index.js';
import { sandboxHost } from '../../src/isolated/sandbox-command.js';
import { SandboxPool } from '../../src/isolated/sandbox-pool.js';
import { functions, isolatedNode, until, untilRunning } from './setup.js';

describe('edge cases between threads', () => {
  it('a fault from work a finished invocation left behind never reaches the next process', async () => {
    const { scheduler } = isolatedNode();
    const leaver = functionModule(
      "export default async ({ leave }) => { if (leave) setTimeout(() => { throw new Error('left behind'); }, 50); return 'done'; };",
      'leaver',
    );
    expect(await scheduler.run(leaver, { leave: true })).toMatchObject({ reason: 'normal', result: 'done' });
    const next = await scheduler.run(leaver, { leave: false });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(next).toMatchObject({ reason: 'normal', result: 'done' });
    expect(scheduler.stats().pool.started).toBe(2);
  });

  it('a message refused as uncopyable is not counted in the queue', async () => {
    const { node, scheduler } = isolatedNode();
    const pid = scheduler.spawn(functions.ponger);
    await untilRunning(node, pid);
    for (let i = 0; i < 3; i++) expect(() => node.send(pid, { fn: () => i })).toThrow(BadArgError);
    expect(node.processInfo(pid)?.messageQueueLength).toBe(0);
  });

  it('copies the input at spawn: a queued process sees the value it was spawned with', async () => {
    const { node, scheduler } = isolatedNode({ maxProcesses: 1 });
    const gate = scheduler.spawn(functions.ponger);
    const input = { value: 'at spawn' };
    const queued = scheduler.run(functions.echo, input);
    input.value = 'mutated after spawn';
    node.send(gate, 'stop');
    expect((await queued).result).toEqual({ value: 'at spawn' });
  });

  it('a kill sent while the result is being delivered does not change a normal exit', async () => {
    const { node, scheduler } = isolatedNode();
    let pid = '';
    const outcome = await scheduler.run(functions.echo, 'x', { onResult: () => node.exit(pid, 'kill') });
    pid = outcome.pid;
    expect(outcome).toMatchObject({ reason: 'normal', result: 'x' });
  });

  it('refuses limits longer than a timer can wait, instead of firing them at once', () => {
    const { scheduler } = isolatedNode();
    expect(() => scheduler.spawn(functions.echo, null, { timeoutMs: 2 ** 31 })).toThrow(/≤ 2147483647/);
    expect(() => scheduler.spawn(functions.echo, null, { cpuMs: 2 ** 40 })).toThrow(/≤ 2147483647/);
  });

  it('rejects scheduler options that make no sense, naming the option', () => {
    expect(() => isolatedNode({ maxProcesses: 0 })).toThrow(/maxProcesses must be a whole number ≥ 1/);
    expect(() => isolatedNode({ windowMs: -5 })).toThrow(/windowMs must be a number of milliseconds > 0/);
    expect(() => isolatedNode({ defaultLimits: { memoryMb: 1 } })).toThrow(/defaultLimits\.memoryMb/);
  });
});

describe('timers longer than setTimeout allows', () => {
  it('systemClock waits instead of firing at once, and can be cleared', async () => {
    let fired = false;
    const timer = systemClock.setTimer(2 ** 31 + 10, () => {
      fired = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toBe(false);
    systemClock.clearTimer(timer);
  });

  it('an isolated receive with a very long timeout keeps waiting for its message', async () => {
    const { node, scheduler } = isolatedNode();
    const patient = functionModule(
      'export default async (_i, ctx) => { const m = await ctx.receive(undefined, 2 ** 31 + 10); return typeof m === "symbol" ? "timed out" : m; };',
      'patient',
    );
    const pid = scheduler.spawn(patient);
    const exit = node.waitExit(pid);
    await until(() => node.processInfo(pid)?.status === 'waiting');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(node.isAlive(pid)).toBe(true);
    node.send(pid, 'arrived');
    expect(await exit).toBe('normal');
  });
});

describe('SandboxPool', () => {
  it('stops pre-starting threads when they keep dying before they are ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-broken-'));
    writeFileSync(join(dir, 'broken.mjs'), "throw new Error('broken sandbox entry');");
    const broken = pathToFileURL(join(dir, 'broken.mjs'));
    const deaths: string[] = [];
    const pool = new SandboxPool(
      {
        entry: broken,
        host: sandboxHost(),
        maxMessageBytes: 1024 * 1024,
        startTimeoutMs: 20_000,
        prestart: 2,
        idleTimeoutMs: 1000,
        maxIdle: 4,
        defaultMemoryMb: undefined,
      },
      {
        onReady: () => undefined,
        onMessage: () => undefined,
        onHandlingCost: () => undefined,
        onDeath: (thread, death) => {
          deaths.push(death.kind);
          pool.forget(thread);
        },
      },
    );
    await until(() => pool.stats().failedStarts >= 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.stats().started).toBeLessThanOrEqual(5);
    expect(deaths.every((kind) => kind === 'error')).toBe(true);
    await pool.close();
  });
});

describe('signalGuard', () => {
  it('ends a process whose send, exit or link the guard refuses, with the reason', async () => {
    let guarded = '';
    const { node, scheduler } = isolatedNode({
      signalGuard: (_from, to, operation) =>
        to === 'protected' || to === guarded ? `${operation} not allowed here` : undefined,
    });
    guarded = node.spawn(async (ctx) => {
      await ctx.receive(() => false);
    });
    node.register('protected', guarded);
    for (const call of ["ctx.send('protected', 1)", `ctx.exit('${guarded}', 'kill')`, `ctx.link('${guarded}')`]) {
      const source = `export default async (_i, ctx) => { ${call}; await ctx.sleep(2000); };`;
      const outcome = await scheduler.run(functionModule(source, 'intruder'));
      expect(outcome.reason).toMatchObject({ error: expect.objectContaining({ name: 'BadArgError' }) });
      expect(String((outcome.reason as { error: Error }).error.message)).toMatch(
        /refused: (send|exit|link) not allowed here/,
      );
    }
    expect(node.isAlive(guarded)).toBe(true);
  });
});
