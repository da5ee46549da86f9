/**
 * What a job writes (ctx.log lines, ctx.progress values) is untrusted input that must never
 * starve the node: every line goes through a token bucket and a size cap, the lines kept per run
 * are capped, log writes to Redis are batched (one command per flush, not one per line) and
 * progress updates are coalesced (the latest value, at most once per flush). What is dropped is
 * counted, and one final line in the job's log says how many lines were dropped.
 */

import { boundedJson } from '@beamline/jobs';

export interface OutputLimits {
  /** Log lines admitted per second (token-bucket refill rate). */
  readonly linesPerSecond: number;
  /** Log lines admitted at once before the rate applies (bucket size). */
  readonly burst: number;
  /** UTF-8 bytes kept of one line; longer lines are cut and marked. */
  readonly maxLineBytes: number;
  /** Log lines kept per run; later lines are dropped. */
  readonly maxLines: number;
  /** UTF-8 bytes of log kept per run; once a line would go past it, later lines are dropped. */
  readonly maxLogBytes: number;
  /** How often buffered lines and the latest progress are written (ms). */
  readonly flushMs: number;
  /** A progress value whose JSON is larger than this (bytes) is dropped. */
  readonly maxProgressBytes: number;
}

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = {
  linesPerSecond: 100,
  burst: 200,
  maxLineBytes: 8 * 1024,
  maxLines: 1000,
  // 1,000 lines of 8 KiB were 8 MiB of Redis a run: a review filled Redis at 19 MB/s with one key.
  maxLogBytes: 1024 * 1024,
  flushMs: 100,
  maxProgressBytes: 8 * 1024,
};

/** Where a job's admitted output goes. Every method must be cheap and never throw synchronously. */
export interface OutputSink {
  /** Appends lines to the job's log: one Redis command for the whole batch. */
  appendLogs(lines: readonly string[]): Promise<unknown>;
  /** Sets the job's progress. */
  setProgress(value: number | object): Promise<unknown>;
  /** Each admitted line, already cut to size (for the node's own log at debug level, as data). */
  onLine?(level: string, line: string): void;
  /** Output dropped since the last call, by kind (for the metric). */
  onDropped(kind: 'log' | 'progress', count: number): void;
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const encoder = new TextEncoder();

/** Longest text a log message is written out to before it is cut (the line cap applies after). */
const MAX_MESSAGE_JSON = 64 * 1024;

/**
 * Text of a log message: strings as they are, anything else as JSON written only up to a bound
 * (job code chooses the value: a sparse array is a few bytes on the wire and gigabytes as JSON).
 * Control characters other than tab are escaped, so a line cannot fake others or move a terminal.
 */
function textOf(message: unknown): string {
  let text: string;
  if (typeof message === 'string') text = message;
  else {
    try {
      const written = boundedJson(message, MAX_MESSAGE_JSON);
      text = !written.fits ? '[a value too large to log]' : (written.text ?? String(message));
    } catch {
      text = '[a value that is not JSON data]';
    }
  }
  return escapeControls(text);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it matches
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Cuts `line` to at most `maxBytes` UTF-8 bytes (never inside a character), with a marker when cut. */
export function capLine(line: string, maxBytes: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short lines need no encoding at all.
  if (line.length * 3 <= maxBytes) return line;
  const buffer = new Uint8Array(maxBytes);
  const { read } = encoder.encodeInto(line, buffer);
  if (read >= line.length) return line;
  return `${line.slice(0, read)} …[truncated: line over ${maxBytes} bytes]`;
}

/** The output of one run of a job. */
export class JobOutput {
  private tokens: number;
  private refilledAt: number;
  private kept = 0;
  private keptBytes = 0;
  private droppedLines = 0;
  private droppedLinesReported = 0;
  private droppedProgress = 0;
  private pending: string[] = [];
  private latestProgress: { readonly value: unknown } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly sink: OutputSink,
    private readonly limits: OutputLimits = DEFAULT_OUTPUT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.burst;
    this.refilledAt = now();
  }

  /** Lines dropped so far (rate, count or after close). */
  get dropped(): number {
    return this.droppedLines;
  }

  /** A `ctx.log` line. O(1) when dropped: nothing is formatted or encoded. */
  log(level: unknown, message: unknown): void {
    const { maxLines, maxLogBytes, maxLineBytes } = this.limits;
    if (this.closed || this.kept >= maxLines || this.keptBytes >= maxLogBytes || !this.take()) {
      this.droppedLines++;
      this.schedule();
      return;
    }
    const lineLevel = typeof level === 'string' && LEVELS.has(level) ? level : 'info';
    const line = capLine(textOf(message), maxLineBytes);
    const entry = `[${lineLevel}] ${line}`;
    const bytes = Buffer.byteLength(entry);
    if (this.keptBytes + bytes > maxLogBytes) {
      this.keptBytes = maxLogBytes;
      this.droppedLines++;
      this.schedule();
      return;
    }
    this.kept++;
    this.keptBytes += bytes;
    this.pending.push(entry);
    this.sink.onLine?.(lineLevel, line);
    this.schedule();
  }

  /** A `ctx.progress` value: only the latest one per flush is written. */
  progress(value: unknown): void {
    if (this.closed) {
      this.droppedProgress++;
      return;
    }
    if (this.latestProgress !== undefined) this.droppedProgress++;
    this.latestProgress = { value };
    this.schedule();
  }

  /**
   * Writes what is buffered, then the line saying how many lines were dropped (if any); later
   * output is dropped. Never rejects.
   */
  async close(): Promise<void> {
    if (this.closed) return this.writing;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.droppedLines > 0) {
      const { linesPerSecond, burst, maxLines, maxLogBytes } = this.limits;
      this.pending.push(
        `[warn] ${this.droppedLines} log lines dropped (limits: ${linesPerSecond} lines/s, bursts of ${burst}, ${maxLines} lines and ${maxLogBytes} bytes per run)`,
      );
    }
    this.flush();
    return this.writing;
  }

  private take(): boolean {
    const now = this.now();
    const { linesPerSecond, burst } = this.limits;
    if (now > this.refilledAt) {
      this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) * linesPerSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.limits.flushMs);
    this.timer.unref?.();
  }

  private flush(): void {
    const lines = this.pending;
    this.pending = [];
    const progress = this.latestProgress;
    this.latestProgress = undefined;
    const droppedLines = this.droppedLines - this.droppedLinesReported;
    this.droppedLinesReported = this.droppedLines;
    const writeProgress = progress !== undefined && this.acceptableProgress(progress.value);
    if (progress !== undefined && !writeProgress) this.droppedProgress++;
    if (droppedLines > 0) this.sink.onDropped('log', droppedLines);
    if (this.droppedProgress > 0) this.sink.onDropped('progress', this.droppedProgress);
    this.droppedProgress = 0;
    if (lines.length === 0 && !writeProgress) return;
    const { sink } = this;
    this.writing = this.writing.then(async () => {
      await Promise.allSettled([
        lines.length > 0 ? (async () => sink.appendLogs(lines))() : undefined,
        writeProgress ? (async () => sink.setProgress(progress.value as number | object))() : undefined,
      ]);
    });
  }

  private acceptableProgress(value: unknown): boolean {
    if (typeof value === 'number') return Number.isFinite(value);
    if (typeof value !== 'object' || value === null) return false;
    try {
      const written = boundedJson(value, this.limits.maxProgressBytes);
      if (!written.fits || written.text === undefined) return false;
      const text = written.text;
      return text.length * 3 <= this.limits.maxProgressBytes || Buffer.byteLength(text) <= this.limits.maxProgressBytes;
    } catch {
      return false;
    }
  }
}
