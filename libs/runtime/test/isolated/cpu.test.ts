import { describe, expect, it } from 'vitest';
import type { Pid, Priority } from '../../src/index.js';
import { functions, type IsolatedTestNode, isolatedNode, sandboxesCpuNs, untilRunning } from './setup.js';

/** CPU-bound busy loops, 4 per core, already running. */
async function startHogs({ node, scheduler }: IsolatedTestNode, priority: Priority): Promise<Pid[]> {
  const hogs = Array.from({ length: 4 * scheduler.cores }, () =>
    scheduler.spawn(functions.busyLoop, null, { priority }),
  );
  for (const hog of hogs) await untilRunning(node, hog);
  return hogs;
}

async function workMs(test: IsolatedTestNode, iterations: number, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const outcome = await test.scheduler.run(functions.work, { iterations }, { priority: 'normal' });
    times.push((outcome.result as { ms: number }).ms);
  }
  return Math.min(...times);
}

/** The largest delay of a 10 ms timer on the main thread over `durationMs`. */
async function timerLateness(durationMs: number): Promise<number> {
  let worst = 0;
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 10));
    worst = Math.max(worst, performance.now() - start - 10);
  }
  return worst;
}

describe('priority reaches the CPU', () => {
  it('a normal-priority CPU job keeps close to its unloaded time beside 4 × cores low-priority busy loops', async () => {
    const test = isolatedNode();
    const iterations = 8_000_000;
    const unloaded = await workMs(test, iterations);
    await startHogs(test, 'low');
    const loaded = await workMs(test, iterations);
    const ratio = loaded / unloaded;
    // Measured here about 1.1×; an equal-priority job takes about 4× (see the benchmark). Loose bound.
    expect(ratio).toBeLessThan(2.5);
    const stats = test.scheduler.stats();
    expect(stats.priorities).toMatchObject({ enforced: true, niceByPriority: { low: 19 } });
    expect(stats.priorities.niceByPriority.normal).toBeGreaterThan(stats.priorities.mainThreadNice);
    expect(stats.cpuSecondsByPriority.low).toBeGreaterThan(0);
  }, 30_000);

  it('a short process completes while 4 × cores equal-priority CPU hogs run', async () => {
    const test = isolatedNode();
    await startHogs(test, 'normal');
    const started = performance.now();
    const outcome = await test.scheduler.run(functions.spin, { ms: 5 });
    expect(outcome.reason).toBe('normal');
    expect(performance.now() - started).toBeLessThan(2000);
  }, 30_000);

  it('the main thread keeps its timers on time while every core is saturated by isolated busy loops', async () => {
    const test = isolatedNode({ windowMs: 1000 });
    const unloadedWorst = await timerLateness(1000);
    await startHogs(test, 'max');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const cpuBefore = sandboxesCpuNs();
    const started = performance.now();
    const worst = await timerLateness(1000);
    const share = (sandboxesCpuNs() - cpuBefore) / 1e6 / (test.scheduler.cores * (performance.now() - started));
    // Timers stay close to their lateness without the hogs, whatever else loads the machine
    // (starved by the hogs, they would be seconds late).
    expect(worst).toBeLessThan(2 * unloadedWorst + 150);
    expect(test.scheduler.stats().mainThread.lagMs.p99).toBeLessThan(2 * unloadedWorst + 150);
    // Utilization reads the share of the cores the hogs got, as the kernel counted it.
    expect(Math.abs(test.scheduler.stats().utilization - share)).toBeLessThan(0.12);
  }, 30_000);
});

describe('utilization', () => {
  it('reads about 0.25 with one process busy half the time on two cores, and about 0 with none', async () => {
    const test = isolatedNode({ cores: 2, windowMs: 1000, sampleIntervalMs: 50 });
    const pid = test.scheduler.spawn(functions.dutyCycle, { busyMs: 20, idleMs: 20 });
    await untilRunning(test.node, pid);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cpuBefore = sandboxesCpuNs();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const share = (sandboxesCpuNs() - cpuBefore) / 1e6 / (2 * (performance.now() - started));
    const busy = test.scheduler.stats().utilization;
    // About 0.25 on an idle machine; less when other work takes the cores. The kernel's count decides.
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.3);
    expect(Math.abs(busy - share)).toBeLessThan(0.07);
    const ended = test.node.waitExit(pid);
    test.node.exit(pid, 'kill');
    await ended;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(test.scheduler.stats().utilization).toBeLessThan(0.03);
    expect(test.node.processInfo(pid)).toBeUndefined();
  }, 30_000);

  it('accounts CPU time per process from the kernel, in nanoseconds, with its heap', async () => {
    const test = isolatedNode();
    const pid = test.scheduler.spawn(functions.dutyCycle, { busyMs: 30, idleMs: 1 });
    await untilRunning(test.node, pid);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const kernel = sandboxesCpuNs();
    const info = test.node.processInfo(pid);
    // What the kernel charged the sandbox (in 10 ms ticks), less its start before the process ran.
    expect(info?.cpuTimeNs).toBeGreaterThan(0);
    expect(info?.cpuTimeNs).toBeLessThanOrEqual(kernel + 20e6);
    expect(info?.cpuTimeNs).toBeGreaterThan(kernel - 300e6);
    expect(info?.reductions).toBe(info?.cpuTimeNs);
    expect(info?.memory).toBeGreaterThan(100_000);
    expect(test.scheduler.stats().processes.byKind.isolated).toBe(1);
  }, 30_000);
});
