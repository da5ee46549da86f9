import v8 from 'node:v8';
import type { SpawnOptions } from '../context.js';
import { BadArgError } from '../errors.js';
import { isDownMessage, isExitMessage } from '../messages.js';
import type { Pid } from '../pid.js';
import { Process, type ProcessStatus } from '../process.js';
import { describeReason, type ExitReason } from '../reason.js';
import type { FunctionModule } from './function-module.js';
import type { ProcessLimits } from './limits.js';
import type { OutputLimiter } from './output-limits.js';
import type { LogLevel } from './protocol.js';
import type { Sandbox } from './sandbox.js';

export interface LogEntry {
  readonly pid: Pid;
  readonly level: LogLevel;
  readonly message: unknown;
}

export interface IsolatedSpawnOptions extends SpawnOptions, ProcessLimits {
  /** Receives the function's return value when it ends normally (before its exit signals go out). */
  readonly onResult?: (value: unknown) => void;
  /** Receives what the function reports with `ctx.progress`. */
  readonly onProgress?: (value: unknown) => void;
  /** Receives what the function logs with `ctx.log`. */
  readonly onLog?: (entry: LogEntry) => void;
  /**
   * The security domain (a tenant) the process belongs to: a sandbox that ran one domain's code
   * is never reused for another's, and processes it spawns belong to the same domain.
   */
  readonly tenant?: string;
  /** Receives the process's CPU time when it ends (before its exit signals go out). */
  readonly onUsage?: (usage: { readonly cpuTimeNs: number }) => void;
}

/** The scheduler, as an isolated process sees it. */
export interface IsolatedHost {
  halt(process: IsolatedProcess, reason: ExitReason): void | Promise<void>;
  collectCpu(process: IsolatedProcess): void;
  /** A message now waits for the process in the node's memory (it has not read it). */
  queuedMessage(process: IsolatedProcess): void;
}

/**
 * `queued`: waiting for a slot; `running`: its body runs on a thread; `finished`: the body
 * returned or threw and the exit is under way; `ended`.
 */
export type Phase = 'queued' | 'running' | 'finished' | 'ended';

/** A process whose body is a function module running on its own isolate thread. */
export class IsolatedProcess extends Process {
  phase: Phase = 'queued';
  thread: Sandbox | undefined;
  /** Messages that arrived before the process had a thread, copied at send time. */
  buffered: unknown[] = [];
  /** Their size as they will be sent to the thread, bytes. */
  bufferedBytes = 0;
  /** CPU time accounted so far, and the thread's counter when last read. */
  cpuNs = 0;
  lastCpuReading: number | undefined;
  /** Whether the thread may serve the next invocation once this one ends (it ended cleanly). */
  reusable = false;
  /** Whether the limits' clocks have started (they start when its sandbox is ready). */
  limitsArmed = false;
  /** Timers of the wall-clock and CPU limits. */
  timers: Array<ReturnType<typeof setTimeout>> = [];
  private lastMemoryBytes: number | undefined;
  /** Aborts the process's fetches in flight when it ends; made on its first fetch. */
  fetches: AbortController | undefined;
  fetchesInFlight = 0;
  /** startJob and awaitJob requests the node has not answered yet. */
  jobRequestsInFlight = 0;
  /** Rates of the output the process sends to the node, made on its first output. */
  output: OutputLimiter | undefined;

  constructor(
    private readonly host: IsolatedHost,
    pid: Pid,
    readonly module: FunctionModule,
    readonly input: unknown,
    readonly options: IsolatedSpawnOptions,
  ) {
    super(pid, 'isolated', options.priority ?? 'normal', options.label ?? module.id);
    this.status = 'runnable';
    if (options.trapExit) this.trapExit = true;
  }

  get messageQueueLength(): number {
    return this.thread ? this.thread.queueLength : this.buffered.length;
  }

  override get memory(): number | undefined {
    if (this.thread) this.lastMemoryBytes = this.thread.residentBytes() ?? this.lastMemoryBytes;
    return this.lastMemoryBytes;
  }

  override get tenant(): string | undefined {
    return this.options.tenant;
  }

  override get cpuTimeNs(): number {
    this.host.collectCpu(this);
    return this.cpuNs;
  }

  override observedStatus(): ProcessStatus {
    if (this.status === 'running' && this.thread?.waiting) return 'waiting';
    return this.status;
  }

  /**
   * Copies the message to the process's thread. A message that cannot be copied is refused
   * with BadArgError to its sender; an EXIT or DOWN whose reason cannot be copied arrives with
   * the reason described as text, so that exit signals are never lost.
   */
  deliver(message: unknown): void {
    if (this.phase === 'finished' || this.phase === 'ended') return;
    const thread = this.thread;
    if (!thread) {
      const copy = copyForProcess(message);
      this.buffered.push(copy);
      this.bufferedBytes += v8.serialize(copy).length;
      this.host.queuedMessage(this);
      return;
    }
    try {
      thread.post({ t: 'msg', serial: thread.serial, message });
    } catch {
      thread.post({ t: 'msg', serial: thread.serial, message: copyForProcess(message) });
    }
    thread.countPosted(1);
    this.host.queuedMessage(this);
  }

  /** The messages buffered before the process had a thread, handed over (and forgotten) at once. */
  takeBuffered(): unknown[] {
    const buffered = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    return buffered;
  }

  /** Bytes of messages sent to the process that wait in the node's memory, not yet read by it. */
  get unreadBytes(): number {
    return this.thread ? this.thread.unreadBytes() : this.bufferedBytes;
  }

  halt(reason: ExitReason): void | Promise<void> {
    return this.host.halt(this, reason);
  }

  /** Keeps the last heap reading once the thread is gone. */
  detach(): void {
    if (this.thread) this.lastMemoryBytes = this.thread.residentBytes() ?? this.lastMemoryBytes;
    this.thread = undefined;
  }
}

/** A structured-clone copy; signals with uncopyable reasons keep their shape with the reason as text. */
export function copyForProcess(message: unknown): unknown {
  try {
    return structuredClone(message);
  } catch (error) {
    if (isExitMessage(message) || isDownMessage(message)) {
      return { ...message, reason: describeReason(message.reason) };
    }
    throw new BadArgError(
      `A message to an isolated process must be copyable to another thread (${error instanceof Error ? error.message : String(error)}). Send plain data: objects, arrays, strings, numbers, Maps, Sets, Dates, Errors.`,
    );
  }
}
