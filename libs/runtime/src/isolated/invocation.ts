import { systemClock } from '../clock.js';
import { TIMEOUT, type Timeout } from '../context.js';
import { BadArgError } from '../errors.js';
import { Mailbox, type Matcher } from '../mailbox.js';
import { isDownMessage } from '../messages.js';
import { isPid, type Pid, type Ref } from '../pid.js';
import { assertPriority } from '../priority.js';
import { type ExitReason, ProcessExit } from '../reason.js';
import { assertReceiveArguments, receiveMessage } from '../receive.js';
import { assertTimeout } from '../timeouts.js';
import type { FunctionContext } from './function-context.js';
import type { ChildJob, StartJobOptions } from './job-tree.js';
import { OutputLimiter, type SandboxOutputKind, type SandboxOutputRates } from './output-limits.js';
import {
  type FromThread,
  LOG_LEVELS,
  type LogLevel,
  MAX_JOB_REQUESTS_IN_FLIGHT,
  type ThreadSpawnOptions,
} from './protocol.js';
import { fromTransferred, type TransferredError } from './transfer.js';

const NEVER: Matcher = () => false;

type Request = FromThread & { readonly serial: number };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** How an invocation talks to its node: messages out, and the mailbox figures the node shows. */
export interface InvocationChannel {
  /** Sends a message to the node; throws when the value cannot be structured-cloned. */
  post(message: FromThread): void;
  /** A message has left the mailbox. */
  taken(serial: number): void;
  /** The body starts or stops waiting in receive. */
  waiting(serial: number, on: boolean): void;
}

/**
 * One run of a function inside its sandbox: the process's mailbox and the `ctx` its body sees.
 * Runs in the sandbox process. Its state is in #private fields: job code holds this object as
 * `ctx` and must not reach the channel or the mailbox behind it.
 */
export class Invocation implements FunctionContext {
  readonly #mailbox = new Mailbox();
  #controller: AbortController | undefined;
  /** Requests the node answers (spawn, startJob, awaitJob), by id. */
  readonly #pendingSpawns = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  /** Refs demonitored with flush whose DOWN may still be in flight from the node. */
  #flushedRefs: Set<Ref> | undefined;
  #trapping: boolean;
  #nextRequest = 0;
  /** Awaits of children not answered yet, by job id; and startJob/awaitJob requests in flight. */
  readonly #awaiting = new Map<string, Promise<unknown>>();
  #jobRequests = 0;
  #nextRef = 0;
  #ended = false;
  readonly #channel: InvocationChannel;
  readonly #output: OutputLimiter<SandboxOutputKind>;
  readonly #dropped: Record<SandboxOutputKind, number> = { log: 0, progress: 0 };

  constructor(
    readonly serial: number,
    readonly self: Pid,
    readonly nodeId: string,
    trapExit: boolean,
    channel: InvocationChannel,
    output: SandboxOutputRates,
  ) {
    this.#channel = channel;
    this.#trapping = trapExit;
    this.#output = new OutputLimiter(output);
  }

  /** Output dropped so far because the body sent it faster than its rates. */
  get dropped(): Readonly<Record<SandboxOutputKind, number>> {
    return { ...this.#dropped };
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** A message the node delivered to this process. */
  deliver(message: unknown): void {
    if (this.#ended) return;
    if (this.#flushedRefs && isDownMessage(message) && this.#flushedRefs.delete(message.ref)) {
      this.#taken();
      return;
    }
    this.#mailbox.push(message);
    this.followMailbox();
  }

  answer(id: number, value: unknown, error: TransferredError | undefined): void {
    const pending = this.#pendingSpawns.get(id);
    if (!pending) return;
    this.#pendingSpawns.delete(id);
    if (error) pending.reject(fromTransferred(error));
    else pending.resolve(value);
  }

  /** The body has finished: stop what it left behind on this thread. */
  end(reason: ExitReason): void {
    this.#ended = true;
    if (this.#mailbox.isWaiting) this.#mailbox.abort(new ProcessExit(this.self, reason));
    this.#mailbox.clear();
    this.#pendingSpawns.clear();
    this.#channel.waiting(this.serial, false);
    this.#controller?.abort(new ProcessExit(this.self, reason));
  }

  send(to: Pid | string, message: unknown): void {
    if (typeof to !== 'string') throw new BadArgError(`send expects a pid or a registered name; got ${typeof to}.`);
    this.#post({ t: 'send', to, message });
  }

  receive<T = unknown>(match?: Matcher<T>): Promise<T>;
  receive<T = unknown>(match: Matcher<T> | undefined, timeoutMs: number): Promise<T | Timeout>;
  receive(match?: Matcher, timeoutMs?: number): Promise<unknown> {
    assertReceiveArguments(match, timeoutMs);
    if (this.#ended) return new Promise<never>(() => undefined);
    const received = receiveMessage(this.#mailbox, match, timeoutMs, systemClock, this);
    return received.then((message) => {
      if (message !== TIMEOUT) this.#taken();
      return message;
    });
  }

  async sleep(ms: number): Promise<void> {
    assertTimeout(ms, 'sleep duration');
    await this.receive(NEVER, ms);
  }

  spawn(fn: string, input?: unknown, options: ThreadSpawnOptions = {}): Promise<Pid> {
    return this.#requestSpawn(fn, input, options, 'none', undefined) as Promise<Pid>;
  }

  spawnLink(fn: string, input?: unknown, options: ThreadSpawnOptions = {}): Promise<Pid> {
    return this.#requestSpawn(fn, input, options, 'link', undefined) as Promise<Pid>;
  }

  async spawnMonitor(fn: string, input?: unknown, options: ThreadSpawnOptions = {}): Promise<{ pid: Pid; ref: Ref }> {
    const ref = this.#makeRef();
    const pid = (await this.#requestSpawn(fn, input, options, 'monitor', ref)) as Pid;
    return { pid, ref };
  }

  startJob(fn: string, input?: unknown, options: StartJobOptions = {}): Promise<ChildJob> {
    if (typeof fn !== 'string' || fn === '') {
      throw new BadArgError(`startJob expects the name of a deployed function; got ${JSON.stringify(fn)}.`);
    }
    if (typeof options !== 'object' || options === null) throw new BadArgError('startJob options must be an object.');
    if (options.link === true && options.monitor === true) {
      throw new BadArgError('startJob: a child is either linked or monitored; give link or monitor, not both.');
    }
    if (options.priority !== undefined) assertPriority(options.priority, 'startJob options.priority');
    return this.#jobRequest({ t: 'startJob', fn, input, options }) as Promise<ChildJob>;
  }

  awaitJob(child: ChildJob | string): Promise<unknown> {
    const job = typeof child === 'string' ? child : child?.id;
    if (typeof job !== 'string' || job === '') {
      throw new BadArgError(
        `awaitJob expects a child job (what startJob resolved to) or its id; got ${JSON.stringify(child)}.`,
      );
    }
    // Every await of one child shares one request: the node answers it once.
    const pending = this.#awaiting.get(job);
    if (pending) return pending;
    const asked = this.#jobRequest({ t: 'awaitJob', job });
    this.#awaiting.set(job, asked);
    const forget = () => this.#awaiting.delete(job);
    asked.then(forget, forget);
    return asked;
  }

  /** A startJob or awaitJob request, refused here beyond what the node would hold unanswered. */
  #jobRequest(
    request: DistributiveOmit<Extract<Request, { t: 'startJob' | 'awaitJob' }>, 'serial' | 'id'>,
  ): Promise<unknown> {
    if (this.#jobRequests >= MAX_JOB_REQUESTS_IN_FLIGHT) {
      return Promise.reject(
        new BadArgError(
          `${request.t}: at most ${MAX_JOB_REQUESTS_IN_FLIGHT} startJob and awaitJob calls of one job may be unanswered; await some first.`,
        ),
      );
    }
    this.#jobRequests++;
    const asked = this.#request(request);
    const settled = () => {
      this.#jobRequests--;
    };
    asked.then(settled, settled);
    return asked;
  }

  link(pid: Pid): void {
    assertPid(pid, 'link');
    this.#post({ t: 'link', pid });
  }

  unlink(pid: Pid): void {
    assertPid(pid, 'unlink');
    this.#post({ t: 'unlink', pid });
  }

  monitor(target: Pid | string): Ref {
    if (typeof target !== 'string')
      throw new BadArgError(`monitor expects a pid or a registered name; got ${typeof target}.`);
    const ref = this.#makeRef();
    this.#post({ t: 'monitor', ref, target });
    return ref;
  }

  demonitor(ref: Ref, options: { readonly flush?: boolean } = {}): true {
    this.#post({ t: 'demonitor', ref });
    if (!options.flush) return true;
    let flushed = false;
    this.#mailbox.discard((m) => {
      const hit = isDownMessage(m) && m.ref === ref;
      if (hit) {
        flushed = true;
        this.#taken();
      }
      return hit;
    });
    if (!flushed) {
      this.#flushedRefs ??= new Set();
      this.#flushedRefs.add(ref);
    }
    return true;
  }

  exit(reason: ExitReason): never;
  exit(pid: Pid, reason: ExitReason): void;
  exit(...args: [ExitReason] | [Pid, ExitReason]): void {
    if (args.length === 1) throw new ProcessExit(this.self, args[0]);
    const [pid, reason] = args;
    assertPid(pid, 'exit(pid, reason)');
    this.#post({ t: 'exit', to: pid, reason });
  }

  trapExit(on: boolean): boolean {
    const previous = this.#trapping;
    this.#trapping = on === true;
    this.#post({ t: 'trap', on: this.#trapping });
    return previous;
  }

  progress(value: unknown): void {
    if (this.#admit('progress')) this.#post({ t: 'progress', value });
  }

  log(message: unknown, level: LogLevel = 'info'): void {
    if (!LOG_LEVELS.includes(level)) {
      throw new BadArgError(`log level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(level)}.`);
    }
    if (this.#admit('log')) this.#post({ t: 'log', level, message });
  }

  #admit(kind: SandboxOutputKind): boolean {
    if (this.#ended) return false;
    if (this.#output.take(kind)) return true;
    this.#dropped[kind]++;
    return false;
  }

  #requestSpawn(
    fn: string,
    input: unknown,
    options: ThreadSpawnOptions,
    relation: 'none' | 'link' | 'monitor',
    ref: Ref | undefined,
  ): Promise<unknown> {
    if (typeof fn !== 'string' || fn === '') {
      throw new BadArgError(`spawn expects the id of a function known to the scheduler; got ${JSON.stringify(fn)}.`);
    }
    if (options.priority !== undefined) assertPriority(options.priority, 'spawn options.priority');
    return this.#request({ t: 'spawn', fn, input, options, relation, ref });
  }

  /** Posts a request the node answers with a reply of the same id. */
  #request(request: DistributiveOmit<Extract<Request, { id: number }>, 'serial' | 'id'>): Promise<unknown> {
    const id = ++this.#nextRequest;
    return new Promise((resolve, reject) => {
      this.#pendingSpawns.set(id, { resolve, reject });
      try {
        this.#post({ ...request, id } as DistributiveOmit<Request, 'serial'>);
      } catch (error) {
        this.#pendingSpawns.delete(id);
        reject(error);
      }
    });
  }

  #makeRef(): Ref {
    return `${this.self}:${++this.#nextRef}`;
  }

  #post(request: DistributiveOmit<Request, 'serial'>): void {
    if (this.#ended) return;
    try {
      this.#channel.post({ ...request, serial: this.serial } as FromThread);
    } catch (error) {
      throw new BadArgError(
        `${request.t}: the value cannot be copied out of the sandbox (${error instanceof Error ? error.message : String(error)}). Send plain data: objects, arrays, strings, numbers, Maps, Sets, Dates, Errors.`,
      );
    }
  }

  /** A message has left the queue: the node's count of queued messages goes down. */
  #taken(): void {
    this.#channel.taken(this.serial);
  }

  /** Publishes whether the body waits in receive, for the node's processInfo. */
  followMailbox(): void {
    if (this.#ended) return;
    this.#channel.waiting(this.serial, this.#mailbox.isWaiting);
  }
}

function assertPid(pid: unknown, operation: string): asserts pid is Pid {
  if (!isPid(pid))
    throw new BadArgError(`${operation} expects a pid ("<node-id>.<serial>"); got ${JSON.stringify(pid)}.`);
}
