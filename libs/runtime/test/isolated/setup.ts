import { readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import {
  type FunctionModule,
  functionModule,
  Node,
  type Pid,
  type Report,
  Scheduler,
  type SchedulerOptions,
} from '../../src/index.js';

export interface IsolatedTestNode {
  readonly node: Node;
  readonly scheduler: Scheduler;
  readonly reports: Report[];
}

const open: Scheduler[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((scheduler) => scheduler.close()));
});

/** A node on real time with a scheduler, closed after the test. */
export function isolatedNode(options: SchedulerOptions = {}): IsolatedTestNode {
  const reports: Report[] = [];
  const node = new Node({ onReport: (report) => reports.push(report) });
  const scheduler = new Scheduler(node, { prestart: 0, ...options });
  open.push(scheduler);
  return { node, scheduler, reports };
}

/** Polls `condition` on the event loop until it holds (for states that threads change). */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Resolves once the isolated process is executing its body (it has used CPU or waits in receive). */
/** Waits until the process runs: a sandbox may take seconds to start on a loaded machine. */
export function untilRunning(node: Node, pid: Pid): Promise<void> {
  return until(() => {
    const info = node.processInfo(pid);
    return info !== undefined && (info.status === 'waiting' || (info.cpuTimeNs ?? 0) > 0);
  }, 20_000);
}

const fn = (name: string, source: string): FunctionModule => functionModule(source, name);

/** Function modules the tests run. */
export const functions = {
  echo: fn('echo', 'export default async (input) => input;'),
  counter: fn('counter', 'let calls = 0;\nexport default async () => ++calls;'),
  thrower: fn('thrower', "export default async () => { throw new TypeError('bad input: x'); };"),
  rejecter: fn('rejecter', "export default () => Promise.reject(new Error('rejected on purpose'));"),
  processExit: fn('process-exit', 'export default async () => { process.exit(3); };'),
  stackOverflow: fn('stack-overflow', 'const down = (n) => down(n + 1) + 1;\nexport default async () => down(0);'),
  timerRejection: fn(
    'timer-rejection',
    "export default async () => {\n  setTimeout(async () => { throw new Error('rejected in a timer'); }, 1);\n  await new Promise(() => {});\n};",
  ),
  allocator: fn(
    'allocator',
    'export default async () => {\n  const kept = [];\n  for (;;) kept.push({ at: Math.random(), pad: new Array(64).fill(0) });\n};',
  ),
  busyLoop: fn('busy-loop', 'export default async () => { for (;;) {} };'),
  /** Spins the CPU for input.ms milliseconds of wall time, then returns how long it took. */
  spin: fn(
    'spin',
    'export default async ({ ms }) => {\n  const start = performance.now();\n  while (performance.now() - start < ms) {}\n  return performance.now() - start;\n};',
  ),
  /** Runs input.iterations of a fixed computation: a CPU-bound job whose unloaded time the test measures. */
  work: fn(
    'work',
    'export default async ({ iterations }) => {\n  const start = performance.now();\n  let x = 0;\n  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i)) % 1e9;\n  return { ms: performance.now() - start, x };\n};',
  ),
  /** Busy for input.busyMs, asleep for input.idleMs, over and over. */
  dutyCycle: fn(
    'duty-cycle',
    'export default async ({ busyMs, idleMs }, ctx) => {\n  for (;;) {\n    const start = performance.now();\n    while (performance.now() - start < busyMs) {}\n    await ctx.sleep(idleMs);\n  }\n};',
  ),
  /** Waits for messages and replies to { from, ping } with { pong }; ends on "stop". */
  ponger: fn(
    'ponger',
    "export default async (_input, ctx) => {\n  for (;;) {\n    const message = await ctx.receive();\n    if (message === 'stop') return 'stopped';\n    if (message && message.from) ctx.send(message.from, { pong: message.ping, by: ctx.self });\n  }\n};",
  ),
  /** Receives input.count messages in arrival order and sends them to input.to. */
  collector: fn(
    'collector',
    'export default async ({ count, to }, ctx) => {\n  const got = [];\n  while (got.length < count) got.push(await ctx.receive());\n  ctx.send(to, got);\n};',
  ),
  /** Selective receive: waits for "go", then takes the { urgent } message, then three more in arrival order. */
  selective: fn(
    'selective',
    "export default async ({ to }, ctx) => {\n  await ctx.receive((m) => m === 'go');\n  const urgent = await ctx.receive((m) => m.urgent === true);\n  const rest = [await ctx.receive(), await ctx.receive(), await ctx.receive()];\n  ctx.send(to, { urgent, rest });\n};",
  ),
  /** Traps exits and ignores every message: only `kill` ends it. */
  stubborn: fn(
    'stubborn',
    'export default async (_input, ctx) => {\n  ctx.trapExit(true);\n  for (;;) await ctx.receive();\n};',
  ),
  /** Crashes when it receives "crash"; ends normally on "stop". */
  crashOnDemand: fn(
    'crash-on-demand',
    "export default async (_input, ctx) => {\n  for (;;) {\n    const message = await ctx.receive();\n    if (message === 'crash') throw new Error('crashed on demand');\n    if (message === 'stop') return;\n  }\n};",
  ),
} as const;

/**
 * CPU time (ns) the kernel has charged to every sandbox process of this test process, read from
 * /proc without the runtime's code: the baseline accounting and utilization are checked against
 * (on a loaded machine the sandboxes get less than their share, and the runtime must say so).
 */
export function sandboxesCpuNs(): number {
  const descendants = (pid: number): number[] => {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
    return children.flatMap((child) => [child, ...descendants(child)]);
  };
  let ticks = 0;
  for (const pid of descendants(process.pid)) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('sandbox-entry')) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10_000_000;
}
