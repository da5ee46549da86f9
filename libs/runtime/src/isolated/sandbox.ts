import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { encodeFrame, type Frame, FrameReader, FrameTooLargeError } from './frames.js';
import { childrenOf, ProcessClock, setProcessNice } from './os-process.js';
import type { FromThread, ToThread } from './protocol.js';
import { type SandboxHost, sandboxCommand } from './sandbox-command.js';
import { threadCpuMs } from './thread-cpu.js';
import { validateFromSandbox } from './validate-message.js';

/** How a sandbox ended on its own (not terminated by the scheduler). */
export type SandboxDeath =
  | { readonly kind: 'out_of_memory'; readonly error: Error }
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'exit'; readonly code: number };

export interface SandboxEvents {
  /** The sandbox has started, confined its globals and is known to the kernel. */
  onReady(sandbox: Sandbox): void;
  /** A message from the sandbox, already checked to be well-formed. */
  onMessage(sandbox: Sandbox, message: FromThread): void;
  /** The sandbox died without being asked to, or broke the protocol and was killed. */
  onDeath(sandbox: Sandbox, death: SandboxDeath): void;
  /**
   * Reading and acting on what the sandbox just sent took the node's main thread `ms` of CPU time
   * (reported from HANDLING_COST_REPORT_MS up): the sender's cost, not the node's.
   */
  onHandlingCost(sandbox: Sandbox, ms: number): void;
}

/** Handling shorter than this is not reported: an ordinary message costs microseconds. */
export const HANDLING_COST_REPORT_MS = 1;

export interface SandboxSettings {
  readonly entry: URL;
  readonly host: SandboxHost;
  /** Heap limit (V8 old generation), megabytes; undefined for V8's default. */
  readonly memoryMb: number | undefined;
  /** The largest message the node accepts from a sandbox. */
  readonly maxMessageBytes: number;
  /** A sandbox that has not reported ready by then is killed; time its tenant's messages are paused does not count. */
  readonly startTimeoutMs: number;
}

const STDERR_TAIL_BYTES = 4096;
/**
 * What a frame held for a sandbox costs the node beyond its bytes: its Buffer, its place in the
 * stream's queue and the garbage of encoding it. A review queued 385,000 tiny messages (38 bytes
 * each, 14.6 MB counted) that took 414 MB of the node's resident memory, about 1 KiB each.
 */
const HELD_FRAME_OVERHEAD_BYTES = 1024;
const OUT_OF_MEMORY =
  /heap out of memory|Reached heap limit|Allocation failed|Fatal JavaScript out of memory|Ineffective mark-compacts/i;

/** Spawns asked for and not yet run, one per turn of the event loop (Sandbox.spawn). */
const spawnQueue: Array<() => void> = [];

function spawnSoon(spawnOne: () => void): void {
  spawnQueue.push(spawnOne);
  if (spawnQueue.length === 1) setImmediate(spawnNext);
}

function spawnNext(): void {
  const spawnOne = spawnQueue.shift();
  try {
    spawnOne?.();
  } finally {
    if (spawnQueue.length > 0) setImmediate(spawnNext);
  }
}

/**
 * A sandbox process on the node's side: one OS process (confined by sandbox-command.ts) that
 * runs one isolated process at a time, reused only for the same function version, heap limit
 * and tenant. Everything it sends is checked; a message that breaks the protocol kills it.
 */
export class Sandbox {
  readonly memoryMb: number | undefined;
  private readonly startTimeoutMs: number;
  /** The OS process and its channel, once spawned (spawns are spread over turns of the event loop). */
  private child: ChildProcess | undefined;
  private channel: Duplex | undefined;
  /** Frames posted before the spawn, written once it has happened. */
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  /** Frames written behind others that still wait in the channel's buffer (not yet with the kernel). */
  private heldFrames = 0;
  private readonly frameWritten = (): void => {
    this.heldFrames--;
  };
  private busy = false;
  /** Until when (performance.now()) reading is paused, for a pause asked before the spawn. */
  private pausedUntil = 0;
  private resolveExited: () => void = () => undefined;
  private readonly reader: FrameReader;
  /** The sandbox's Node process in the host's PID namespace, once it has reported ready. */
  private clock: ProcessClock | undefined;
  /** The nice value last applied. */
  nice: number | undefined;
  /** The function version whose module this sandbox has loaded. */
  moduleId: string | undefined;
  /** The tenant (security domain) whose code this sandbox has run; never reused for another. */
  tenant: string | undefined;
  /** The CPU group it was placed in, `<tenant>/<priority>` (NicePolicy). */
  group: string | undefined;
  /** Serial of the invocation running or last run; messages carrying another serial are stale. */
  serial = 0;
  /** True from the moment the scheduler terminates the sandbox or it dies. */
  dead = false;
  /** True once the scheduler has asked the sandbox to terminate (as opposed to it dying). */
  terminated = false;
  /** Set when work left by an ended invocation faulted: the sandbox is not reused. */
  tainted = false;
  ready = false;
  /** Resident memory when the sandbox became ready: what the runtime itself uses. */
  private baselineBytes = 0;
  private posted = 0;
  private taken = 0;
  private isWaiting = false;
  private stderrTail = '';
  private readonly exited: Promise<void>;
  private readyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    settings: SandboxSettings,
    private readonly events: SandboxEvents,
  ) {
    this.memoryMb = settings.memoryMb;
    this.reader = new FrameReader(settings.maxMessageBytes);
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.startTimeoutMs = settings.startTimeoutMs;
    this.armReadyTimer(this.startTimeoutMs);
    spawnSoon(() => this.spawn(settings));
  }

  /**
   * Starts the OS process. `child_process.spawn` holds the main thread for 9–40 ms here (it forks
   * the node), so spawns asked for together run one per turn of the event loop, and timers (lock
   * renewal among them) run between them: eight at once held the loop past a 500 ms lock.
   */
  private spawn(settings: SandboxSettings): void {
    if (this.dead) {
      this.resolveExited();
      return;
    }
    let child: ChildProcess;
    try {
      const { command, args } = sandboxCommand(settings.host, settings.entry, settings.memoryMb);
      child = spawn(command, args, { env: {}, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], cwd: '/' });
    } catch (error) {
      this.resolveExited();
      this.died({ kind: 'error', error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    const channel = child.stdio[3] as Duplex;
    this.child = child;
    this.channel = channel;
    child.once('exit', () => this.resolveExited());
    child.stderr?.setEncoding('latin1');
    child.stderr?.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    channel.on('data', (chunk: Buffer) => this.receive(chunk));
    channel.on('error', () => undefined);
    child.on('error', (error) => this.died({ kind: 'error', error }));
    child.on('exit', (code, signal) => this.exitedOnItsOwn(code, signal));
    for (const frame of this.outbox) this.write(channel, frame);
    this.outbox = [];
    this.outboxBytes = 0;
    this.hold(this.busy);
    const pausedFor = this.pausedUntil - performance.now();
    if (pausedFor > 0) this.pauseReading(pausedFor);
  }

  post(message: ToThread): void {
    if (this.dead) return;
    const frame = encodeFrame(message);
    if (this.channel) this.write(this.channel, frame);
    else {
      this.outbox.push(frame);
      this.outboxBytes += frame.length;
    }
  }

  /**
   * Bytes posted to the sandbox that wait in the node's memory: before the spawn, and once the
   * socket is full because the sandbox does not read (a busy job does not).
   */
  unreadBytes(): number {
    const frames = this.outbox.length + this.heldFrames;
    return this.outboxBytes + (this.channel?.writableLength ?? 0) + frames * HELD_FRAME_OVERHEAD_BYTES;
  }

  /** A frame written behind others waits in the node's memory: counted until it reaches the kernel. */
  private write(channel: Duplex, frame: Buffer): void {
    if (channel.writableLength === 0) {
      channel.write(frame);
      return;
    }
    this.heldFrames++;
    channel.write(frame, this.frameWritten);
  }

  /** The sandbox's OS process id in the host's namespace (undefined before ready). */
  get pid(): number | undefined {
    return this.clock?.pid;
  }

  get reniceable(): boolean {
    return this.clock !== undefined && !this.dead;
  }

  renice(nice: number): string | undefined {
    if (!this.clock) return 'the sandbox process is not known yet';
    return setProcessNice(this.clock.pid, nice);
  }

  /** Nanoseconds of CPU all threads of the sandbox have used (undefined before ready or once gone). */
  cpuNs(): number | undefined {
    const now = this.clock?.cpuNs();
    if (now !== undefined) this.lastCpuNs = now;
    return now;
  }

  /**
   * The last CPU reading, if nothing can have run since: a warm sandbox is idle between two
   * invocations (the pool discards one that is not), so the reading taken when the last one
   * ended serves as the next one's start, and saves a read of /proc.
   */
  lastCpuNs: number | undefined;

  /** Resident memory of the whole sandbox process, bytes (what an observer shows). */
  residentBytes(): number | undefined {
    return this.clock?.residentBytes();
  }

  /** Memory the sandbox holds beyond what its runtime held when it started, bytes (what `memoryMb` limits). */
  jobMemoryBytes(): number | undefined {
    const resident = this.clock?.residentBytes();
    return resident === undefined ? undefined : Math.max(0, resident - this.baselineBytes);
  }

  /** Messages posted to the current invocation and not yet taken by a receive. */
  get queueLength(): number {
    return Math.max(0, this.posted - this.taken);
  }

  get waiting(): boolean {
    return this.isWaiting;
  }

  /** Starts counting messages for a new invocation. */
  resetCounters(): void {
    this.posted = 0;
    this.taken = 0;
    this.isWaiting = false;
  }

  /** Counts messages posted to (or, with -1, withdrawn from) the current invocation's queue. */
  countPosted(delta: 1 | -1): void {
    this.posted += delta;
  }

  /** Stops the sandbox at whatever instruction it is on; resolves once it is gone. */
  async terminate(): Promise<void> {
    this.terminated = true;
    this.markDead();
    this.hold(true);
    this.kill();
    await this.exited;
  }

  /** Idle sandboxes must not keep the node's OS process alive; busy ones do. */
  hold(busy: boolean): void {
    this.busy = busy;
    if (!this.child) return;
    const handles = [
      this.child,
      this.channel as unknown as { ref(): void; unref(): void },
      this.child.stderr as unknown as { ref(): void; unref(): void } | null,
    ];
    for (const handle of handles) {
      if (!handle) continue;
      if (busy) handle.ref();
      else handle.unref();
    }
  }

  /**
   * Stops reading what the sandbox sends for `ms`: its writes wait in the socket (and then in
   * its own memory, under its limit) while the node serves others.
   */
  pauseReading(ms: number): void {
    if (this.dead || ms <= 0) return;
    // Its `ready` waits too: the start timeout counts from the end of the pause.
    if (!this.ready) this.armReadyTimer(ms + this.startTimeoutMs);
    this.pausedUntil = performance.now() + ms;
    const channel = this.channel;
    if (!channel) return;
    channel.pause();
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      if (!this.dead) channel.resume();
    }, ms);
    this.resumeTimer.unref();
  }

  private resumeTimer: ReturnType<typeof setTimeout> | undefined;

  private armReadyTimer(ms: number): void {
    clearTimeout(this.readyTimer);
    this.readyTimer = setTimeout(() => {
      if (!this.ready) this.violation(`the sandbox did not start within ${this.startTimeoutMs / 1000} s`);
    }, ms);
    this.readyTimer.unref();
  }

  private receive(chunk: Buffer): void {
    if (this.dead) return;
    const startedCpu = threadCpuMs();
    const started = performance.now();
    try {
      this.handle(chunk);
    } finally {
      // The wall clock first (cheap): only a chunk that took a while is measured in CPU time.
      if (performance.now() - started >= HANDLING_COST_REPORT_MS) {
        const ms = threadCpuMs() - startedCpu;
        if (ms >= HANDLING_COST_REPORT_MS) this.events.onHandlingCost(this, ms);
      }
    }
  }

  private handle(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      const why = error instanceof FrameTooLargeError ? error.message : 'bytes that are not a message';
      this.violation(`the sandbox sent ${why}`);
      return;
    }
    for (const { value, bytes } of frames) {
      if (this.dead) return;
      const message = validateFromSandbox(value, bytes);
      if (typeof message === 'string') {
        this.violation(message);
        return;
      }
      if (message.t === 'ready') {
        if (this.ready) {
          this.violation('the sandbox reported ready twice');
          return;
        }
        this.becameReady();
        continue;
      }
      if (message.t === 'status') {
        if (message.serial === this.serial) {
          this.taken = Math.min(message.taken, this.posted);
          this.isWaiting = message.waiting;
        }
        continue;
      }
      this.events.onMessage(this, message);
    }
  }

  private becameReady(): void {
    clearTimeout(this.readyTimer);
    const pid = this.sandboxPid();
    if (pid !== undefined) {
      this.clock = new ProcessClock(pid);
      this.baselineBytes = this.clock.residentBytes() ?? 0;
    }
    this.ready = true;
    this.events.onReady(this);
  }

  /** The Node process inside the wrapper commands: the wrapper's only child when namespaces are used. */
  private sandboxPid(): number | undefined {
    const wrapper = this.child?.pid;
    if (wrapper === undefined) return undefined;
    const children = childrenOf(wrapper);
    return children.length === 1 ? children[0] : wrapper;
  }

  private violation(why: string): void {
    this.died({ kind: 'error', error: protocolError(why) });
    this.kill();
  }

  private exitedOnItsOwn(code: number | null, signal: NodeJS.Signals | null): void {
    this.clock?.close();
    if (this.dead) return;
    if (OUT_OF_MEMORY.test(this.stderrTail) || signal === 'SIGSEGV' || signal === 'SIGBUS') {
      this.died({ kind: 'out_of_memory', error: new Error('The sandbox ran out of memory.') });
    } else if (!this.ready) {
      const lastLine = this.stderrTail.trim().split('\n').at(-1) ?? '';
      const error = new Error(`The sandbox failed to start (${signal ?? `exit ${code}`}): ${lastLine}`);
      error.name = 'SandboxStartFailed';
      this.died({ kind: 'error', error });
    } else if (signal !== null) {
      const error = new Error(`The sandbox was ended by ${signal}.`);
      error.name = 'SandboxCrashed';
      this.died({ kind: 'error', error });
    } else {
      this.died({ kind: 'exit', code: code ?? 0 });
    }
  }

  private died(death: SandboxDeath): void {
    if (this.dead) return;
    this.markDead();
    this.events.onDeath(this, death);
  }

  private kill(): void {
    if (!this.child) {
      // Not spawned yet: it never will be.
      this.resolveExited();
      return;
    }
    const pid = this.clock?.pid;
    if (pid !== undefined && pid !== this.child.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.child.kill('SIGKILL');
  }

  private markDead(): void {
    this.dead = true;
    clearTimeout(this.readyTimer);
    clearTimeout(this.resumeTimer);
  }
}

function protocolError(why: string): Error {
  const error = new Error(`The job broke the sandbox protocol and was killed: ${why}.`);
  error.name = 'ProtocolViolation';
  return error;
}
