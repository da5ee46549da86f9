import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FunctionRegistry } from '@beamline/jobs';
import { describe, expect, it } from 'vitest';
import { capLine, JobOutput, type OutputLimits, type OutputSink } from '../src/job-output.js';
import { startWorker, useJobs } from './helpers.js';

const t = useJobs();
const redis = t.redis;

/** A sink that records what it is given. */
function recorder(): OutputSink & {
  logs: string[][];
  progress: unknown[];
  dropped: Record<string, number>;
  debug: string[];
} {
  const sink = {
    logs: [] as string[][],
    progress: [] as unknown[],
    dropped: { log: 0, progress: 0 } as Record<string, number>,
    debug: [] as string[],
    appendLogs: async (lines: readonly string[]) => sink.logs.push([...lines]),
    setProgress: async (value: number | object) => sink.progress.push(value),
    onLine: (_level: string, line: string) => sink.debug.push(line),
    onDropped: (kind: 'log' | 'progress', count: number) => {
      sink.dropped[kind] = (sink.dropped[kind] ?? 0) + count;
    },
  };
  return sink;
}

/** Limits small enough to reach in a test: 100 lines/s (bursts of 100), 10 lines of 64 bytes, 4 KiB, flushed every 5 ms. */
function smallLimits(overrides: Partial<OutputLimits>): OutputLimits {
  return {
    linesPerSecond: 100,
    burst: 100,
    maxLineBytes: 64,
    maxLines: 10,
    maxLogBytes: 4096,
    flushMs: 5,
    maxProgressBytes: 64,
    ...overrides,
  };
}

describe('job output limits', () => {
  it('admits a burst, then the rate; caps the lines per run; batches writes; ends with one "dropped" line', async () => {
    let now = 0;
    const sink = recorder();
    const output = new JobOutput(sink, smallLimits({ linesPerSecond: 10, burst: 5, maxLines: 8 }), () => now);
    for (let i = 0; i < 20; i++) output.log('info', `a${i}`);
    now += 200; // 2 more tokens
    for (let i = 0; i < 20; i++) output.log('warn', `b${i}`);
    now += 10_000; // the bucket is full again, but only 1 line of the 8 per run is left
    for (let i = 0; i < 20; i++) output.log('error', `c${i}`);
    await output.close();
    const lines = sink.logs.flat();
    expect(lines).toEqual([
      '[info] a0',
      '[info] a1',
      '[info] a2',
      '[info] a3',
      '[info] a4',
      '[warn] b0',
      '[warn] b1',
      '[error] c0',
      '[warn] 52 log lines dropped (limits: 10 lines/s, bursts of 5, 8 lines and 4096 bytes per run)',
    ]);
    expect(sink.logs.length).toBe(1); // one write for all of it
    expect(sink.dropped.log).toBe(52);
    expect(output.dropped).toBe(52);
    output.log('info', 'after close');
    expect(sink.logs.flat()).toHaveLength(9);
  });

  it('caps the bytes of log kept per run: the first line past it and every later one are dropped and counted', async () => {
    const sink = recorder();
    const output = new JobOutput(
      sink,
      smallLimits({ linesPerSecond: 1000, burst: 1000, maxLineBytes: 100, maxLines: 1000, maxLogBytes: 250 }),
    );
    for (let i = 0; i < 10; i++) output.log('info', `${i}${'y'.repeat(99)}`);
    output.log('info', 'short');
    await output.close();
    const lines = sink.logs.flat();
    // Two lines of 107 bytes ("[info] " and 100): 214 of 250, and a third would pass it.
    expect(lines.slice(0, -1).map((line) => line.slice(0, 8))).toEqual(['[info] 0', '[info] 1']);
    expect(lines.at(-1)).toBe(
      '[warn] 9 log lines dropped (limits: 1000 lines/s, bursts of 1000, 1000 lines and 250 bytes per run)',
    );
    expect(sink.dropped.log).toBe(9);
  });

  it('cuts long lines at a character boundary with a marker; non-strings become JSON; control characters are escaped; levels are checked', async () => {
    expect(capLine('short', 16)).toBe('short');
    const cut = capLine('é'.repeat(100), 16);
    expect(cut).toBe(`${'é'.repeat(8)} …[truncated: line over 16 bytes]`);
    const sink = recorder();
    const output = new JobOutput(sink, smallLimits({}));
    output.log('info', { a: 1 });
    output.log('<script>', '{"level":60,"msg":"forged"}\n{"forged":true}');
    output.log('info', 'x'.repeat(1000));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    output.log('info', cyclic);
    await output.close();
    expect(sink.logs.flat()).toEqual([
      '[info] {"a":1}',
      // A newline cannot make a second line: control characters are escaped.
      '[info] {"level":60,"msg":"forged"}\\u000a{"forged":true}',
      `[info] ${'x'.repeat(64)} …[truncated: line over 64 bytes]`,
      '[info] [a value that is not JSON data]',
    ]);
  });

  it('coalesces progress: the latest value at most once per flush; drops values too large', async () => {
    const sink = recorder();
    const output = new JobOutput(sink, smallLimits({ linesPerSecond: 1, burst: 1, maxLines: 1, flushMs: 20 }));
    for (let i = 1; i <= 100; i++) output.progress(i);
    await new Promise((resolve) => setTimeout(resolve, 60));
    output.progress({ big: 'x'.repeat(1000) });
    await output.close();
    expect(sink.progress).toEqual([100]);
    expect(sink.dropped.progress).toBe(100);
  });

  it('8 jobs each logging 20,000 lines with a 500 ms lock: all complete, none stalls, the event loop stays responsive', async () => {
    const worker = await startWorker(redis.server.url, {
      LOCK_DURATION_MS: '500',
      STALLED_INTERVAL_MS: '500',
      WORKER_CONCURRENCY: '8',
    });
    const registry = new FunctionRegistry(t.j.redis, t.j.keys);
    await registry.deploy(
      'default',
      'chatty',
      "export default async (_input, ctx) => { for (let i = 0; i < 20000; i++) { ctx.log('line ' + i + ' ' + 'x'.repeat(80)); if (i % 1000 === 0) ctx.progress(i); } await ctx.sleep(1500); return 'done'; };",
    );
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const submitted = await Promise.all(
      Array.from({ length: 8 }, () => t.j.submit({ function: 'chatty', attempts: 1 })),
    );
    const views = await Promise.all(submitted.map((job) => t.j.finished(job.id, 60_000)));
    lag.disable();
    for (const view of views) expect(view).toMatchObject({ state: 'completed', result: 'done', attemptsMade: 1 });
    const stalled = await worker.metrics.registry.getSingleMetric('beamline_jobs_stalled_total')?.get();
    expect(stalled?.values.reduce((sum, v) => sum + v.value, 0) ?? 0).toBe(0);
    // The runtime may drop output before it reaches the node (its own rates); whatever reaches
    // the node is capped here: at most 1,000 lines per run plus the line saying how many were dropped.
    const dropped = await worker.metrics.registry.getSingleMetric('beamline_job_output_dropped_total')?.get();
    const droppedLog = dropped?.values.find((v) => v.labels.kind === 'log')?.value ?? 0;
    const counts: number[] = [];
    for (const job of submitted) {
      const { logs, count } = await t.j.store.logs(job.id);
      counts.push(count);
      expect(count).toBeLessThanOrEqual(1001);
      if (droppedLog > 0 && count > 0) expect(logs.at(-1)).toMatch(/^\[warn\] \d+ log lines dropped/);
    }
    console.log(`output flood: lines kept per job ${counts.join(', ')}; dropped by the node ${droppedLog}`);
    const maxLagMs = lag.max / 1e6;
    const p99LagMs = lag.percentile(99) / 1e6;
    console.log(`output flood: event-loop lag p99 ${p99LagMs.toFixed(1)} ms, max ${maxLagMs.toFixed(1)} ms`);
    expect(maxLagMs).toBeLessThan(400);
  }, 90_000);
});
