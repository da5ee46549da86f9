import { CallError, callMessage, isReplyMessage, replyMessage } from './call.js';
import {
  type CallFrom,
  type DemonitorOptions,
  type InitBody,
  type ProcessBody,
  type ProcessContext,
  type SpawnOptions,
  type Started,
  TIMEOUT,
  type Timeout,
} from './context.js';
import { BadArgError } from './errors.js';
import { KERNEL } from './internal.js';
import type { Kernel } from './kernel.js';
import { Mailbox, type Matcher } from './mailbox.js';
import { isDownMessage } from './messages.js';
import { assertValidName } from './names.js';
import { isPid, type Pid, type Ref } from './pid.js';
import { assertPriority } from './priority.js';
import { Process } from './process.js';
import { type ExitReason, isOrderlyExit, ProcessExit } from './reason.js';
import { assertReceiveArguments, receiveMessage } from './receive.js';
import { StartError } from './start-error.js';
import { assertTimeout } from './timeouts.js';

const NEVER: Matcher = () => false;

/** A process whose body is an async function on the node's main thread. */
export class GreenProcess extends Process {
  readonly mailbox = new Mailbox();
  exitReason: ExitReason = 'normal';
  /** Refs of calls waiting for a reply; a reply to any other ref arrived too late and is dropped. */
  awaitingReplies: Set<Ref> | undefined;
  /** While an init-phase process has not called `ready`: the starter it is linked to. */
  linkedStarter: Pid | undefined;
  private abortController: AbortController | undefined;

  constructor(
    readonly kernel: Kernel,
    pid: Pid,
    options: SpawnOptions,
    initialFunction: string,
  ) {
    super(pid, 'green', options.priority ?? 'normal', initialFunction);
    if (options.trapExit) this.trapExit = true;
  }

  get messageQueueLength(): number {
    return this.mailbox.length;
  }

  get signal(): AbortSignal {
    this.abortController ??= new AbortController();
    return this.abortController.signal;
  }

  deliver(message: unknown): void {
    if (isReplyMessage(message) && !this.awaitingReplies?.delete(message.ref)) return;
    if (this.mailbox.push(message)) {
      this.reductions++;
      this.followMailbox();
    }
  }

  /** Status follows the mailbox: waiting while a receive is pending. */
  followMailbox(): void {
    if (this.alive) this.status = this.mailbox.isWaiting ? 'waiting' : 'running';
  }

  halt(reason: ExitReason): void {
    this.exitReason = reason;
    if (this.mailbox.isWaiting) this.mailbox.abort(new ProcessExit(this.pid, reason));
    this.mailbox.clear();
    const controller = this.abortController;
    if (controller) queueMicrotask(() => controller.abort(new ProcessExit(this.pid, reason)));
  }

  async run(
    body: ProcessBody | InitBody<unknown>,
    ctx: ProcessContext,
    ready: (value: unknown) => void,
  ): Promise<void> {
    if (!this.alive) return;
    let reason: ExitReason = 'normal';
    try {
      await body(ctx, ready);
    } catch (error) {
      if (!this.alive) return;
      reason = error instanceof ProcessExit && error.pid === this.pid ? error.reason : { error };
      if (!isOrderlyExit(reason)) {
        this.kernel.report({ type: 'crash', pid: this.pid, initialFunction: this.initialFunction, reason });
      }
    }
    // A process that fails before `ready` is unlinked first, so its starter gets StartError, not an exit signal.
    if (this.linkedStarter !== undefined) this.kernel.unlink(this, this.linkedStarter);
    this.kernel.terminate(this, reason);
  }
}

type Relation = 'none' | 'link' | 'monitor';

function validateSpawnOptions(options: SpawnOptions): void {
  if (options.priority !== undefined) assertPriority(options.priority, 'options.priority');
  if (options.name !== undefined) assertValidName(options.name);
}

/**
 * Creates and starts a green process. Links, monitors and the name are in place before the
 * body runs; the body starts on a later microtask, so the pid is returned first.
 */
export function spawnGreen(
  kernel: Kernel,
  body: ProcessBody | InitBody<unknown>,
  options: SpawnOptions,
  parent: Process | undefined,
  relation: Relation,
  ready: (value: unknown) => void = ignoreReady,
): { process: GreenProcess; ref: Ref | undefined } {
  if (typeof body !== 'function') {
    throw new TypeError(`A process body must be a function (ctx) => …; got ${typeof body}.`);
  }
  validateSpawnOptions(options);
  if (options.name !== undefined) kernel.assertNameFree(options.name);
  const process = new GreenProcess(kernel, kernel.nextPid(), options, options.label ?? (body.name || 'anonymous'));
  kernel.admit(process);
  if (options.name !== undefined) kernel.register(options.name, process.pid);
  let ref: Ref | undefined;
  if (parent && relation === 'link') kernel.link(parent, process.pid);
  if (parent && relation === 'monitor') ref = kernel.monitor(parent, process.pid);
  const ctx = new GreenContext(kernel, process);
  queueMicrotask(() => void process.run(body, ctx, ready));
  return { process, ref };
}

function ignoreReady(): void {}

/** Spawns a process with an init phase and resolves once it calls `ready`. */
export function startGreen<T>(
  kernel: Kernel,
  body: InitBody<T>,
  options: SpawnOptions,
  parent: Process | undefined,
  link: boolean,
): Promise<Started<T>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const ready = (value: unknown): void => {
      if (settled) return;
      settled = true;
      child.linkedStarter = undefined;
      resolve({ pid: child.pid, value: value as T });
    };
    const child = spawnGreen(kernel, body as InitBody<unknown>, options, parent, link ? 'link' : 'none', ready).process;
    if (link && parent) child.linkedStarter = parent.pid;
    kernel.onExit(child.pid, (reason) => {
      if (settled) return;
      settled = true;
      reject(new StartError(child.pid, reason));
    });
  });
}

/** A promise that never settles: parks the body of a process that has ended. */
function parked<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

function assertPid(pid: unknown, operation: string): asserts pid is Pid {
  if (!isPid(pid)) {
    throw new BadArgError(
      `${operation} expects a pid ("<node-id>.<serial>"); got ${JSON.stringify(pid)}. For a registered name, use whereis(name) first.`,
    );
  }
}

/**
 * The `ctx` that a green process's body receives. Once the process has ended, its ctx has no
 * effect: what it sends is dropped, receive/sleep/call never settle (parking the body), and
 * calls that would create something (spawn, register) throw ProcessExit.
 */
class GreenContext implements ProcessContext {
  constructor(
    private readonly kernel: Kernel,
    private readonly process: GreenProcess,
  ) {}

  get self(): Pid {
    return this.process.pid;
  }

  get [KERNEL](): Kernel {
    return this.kernel;
  }

  get nodeId(): string {
    return this.kernel.nodeId;
  }

  get signal(): AbortSignal {
    return this.process.signal;
  }

  /** The process, counting one reduction, or undefined once it has ended. */
  private live(): GreenProcess | undefined {
    const process = this.process;
    if (!process.alive) return undefined;
    process.reductions++;
    return process;
  }

  /** The process, or a thrown ProcessExit once it has ended (for calls that must not be ignored). */
  private enter(): GreenProcess {
    const process = this.live();
    if (!process) throw new ProcessExit(this.process.pid, this.process.exitReason);
    return process;
  }

  /** After an operation that may have ended the caller (exit signals to itself), unwinds it. */
  private leave(): void {
    const process = this.process;
    if (!process.alive) throw new ProcessExit(process.pid, process.exitReason);
  }

  send(to: Pid | string, message: unknown): void {
    const process = this.live();
    if (process) this.kernel.send(process.pid, to, message);
  }

  receive<T = unknown>(match?: Matcher<T>): Promise<T>;
  receive<T = unknown>(match: Matcher<T> | undefined, timeoutMs: number): Promise<T | Timeout>;
  receive(match?: Matcher, timeoutMs?: number): Promise<unknown> {
    assertReceiveArguments(match, timeoutMs);
    const process = this.live();
    if (!process) return parked();
    return receiveMessage(process.mailbox, match, timeoutMs, this.kernel.clock, process);
  }

  spawn(body: ProcessBody, options: SpawnOptions = {}): Pid {
    const process = this.enter();
    return spawnGreen(this.kernel, body, options, process, 'none').process.pid;
  }

  spawnLink(body: ProcessBody, options: SpawnOptions = {}): Pid {
    const process = this.enter();
    return spawnGreen(this.kernel, body, options, process, 'link').process.pid;
  }

  spawnMonitor(body: ProcessBody, options: SpawnOptions = {}): { pid: Pid; ref: Ref } {
    const process = this.enter();
    const spawned = spawnGreen(this.kernel, body, options, process, 'monitor');
    return { pid: spawned.process.pid, ref: spawned.ref as Ref };
  }

  startLink<T>(body: InitBody<T>, options: SpawnOptions = {}): Promise<Started<T>> {
    const process = this.enter();
    return startGreen(this.kernel, body, options, process, true);
  }

  link(pid: Pid): void {
    assertPid(pid, 'link');
    const process = this.live();
    if (!process) return;
    const failure = this.kernel.link(process, pid);
    if (failure !== undefined) throw new ProcessExit(process.pid, failure);
  }

  unlink(pid: Pid): void {
    assertPid(pid, 'unlink');
    const process = this.live();
    if (process) this.kernel.unlink(process, pid);
  }

  monitor(target: Pid | string): Ref {
    const process = this.live();
    return process ? this.kernel.monitor(process, target) : this.kernel.makeRef();
  }

  demonitor(ref: Ref, options?: DemonitorOptions & { readonly info?: false }): true;
  demonitor(ref: Ref, options?: DemonitorOptions): boolean;
  demonitor(ref: Ref, options: DemonitorOptions = {}): boolean {
    const process = this.live();
    const removed = process !== undefined && this.kernel.demonitor(process, ref);
    if (process && options.flush) process.mailbox.discard((m) => isDownMessage(m) && m.ref === ref);
    return options.info ? removed : true;
  }

  exit(reason: ExitReason): never;
  exit(pid: Pid, reason: ExitReason): void;
  exit(...args: [ExitReason] | [Pid, ExitReason]): void {
    if (args.length === 1) throw new ProcessExit(this.process.pid, args[0]);
    const [pid, reason] = args;
    assertPid(pid, 'exit(pid, reason)');
    const process = this.live();
    if (!process) return;
    this.kernel.exit(process.pid, pid, reason);
    this.leave();
  }

  trapExit(on: boolean): boolean {
    const process = this.process;
    const previous = process.trapExit;
    if (this.live()) process.trapExit = on;
    return previous;
  }

  register(name: string, pid?: Pid): void {
    const process = this.enter();
    this.kernel.register(name, pid ?? process.pid);
  }

  unregister(name: string): void {
    this.enter();
    this.kernel.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.kernel.whereis(name);
  }

  isAlive(pid: Pid): boolean {
    return this.kernel.get(pid) !== undefined;
  }

  async sleep(ms: number): Promise<void> {
    assertTimeout(ms, 'sleep duration');
    await this.receive(NEVER, ms);
  }

  async call<T = unknown>(to: Pid | string, request: unknown, timeoutMs = 5000): Promise<T> {
    assertTimeout(timeoutMs, 'call timeout');
    const process = this.live();
    if (!process) return parked();
    const pid = this.kernel.whereis(to) ?? (isPid(to) ? to : undefined);
    if (pid === undefined) throw new CallError(to, 'noproc');
    if (pid === process.pid) throw new CallError(to, 'calling_self');
    const ref = this.kernel.monitor(process, pid);
    process.awaitingReplies ??= new Set();
    process.awaitingReplies.add(ref);
    try {
      this.kernel.send(process.pid, pid, callMessage({ pid: process.pid, ref }, request));
      const answer = await this.receive((m) => (isReplyMessage(m) || isDownMessage(m)) && m.ref === ref, timeoutMs);
      if (answer === TIMEOUT) throw new CallError(to, 'timeout');
      if (isDownMessage(answer)) throw new CallError(to, answer.reason);
      return (answer as { value: T }).value;
    } finally {
      process.awaitingReplies.delete(ref);
      if (process.alive) this.demonitor(ref, { flush: true });
    }
  }

  reply(from: CallFrom, value: unknown): void {
    const process = this.live();
    if (process) this.kernel.send(process.pid, from.pid, replyMessage(from.ref, value));
  }
}
