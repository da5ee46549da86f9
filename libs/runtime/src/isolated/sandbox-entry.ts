import net from 'node:net';
import { clearImmediate, setImmediate } from 'node:timers';
import { ProcessExit } from '../reason.js';
import { encodeFrame, FrameReader } from './frames.js';
import type { IsolatedFunction } from './function-context.js';
import { Invocation, type InvocationChannel } from './invocation.js';
import { confineGlobals, JobTimers } from './job-runtime.js';
import { compileFunctionModule, linkFunctionModule } from './module-loader.js';
import {
  type Fault,
  type FetchRequest,
  type FetchResponse,
  type FromThread,
  OUTPUT_MESSAGE_BYTES,
  type Outcome,
  type ToThread,
} from './protocol.js';
import { toTransferred } from './transfer.js';

/**
 * The entry point of a sandbox process: the node starts one per isolated process (reused for
 * later runs of the same function by the same tenant). It takes the channel to the node on fd 3,
 * removes Node's globals, loads one function module with no imports allowed, and runs
 * invocations of it one at a time. Never imported by the node.
 */

/** The node sends code and inputs; a frame larger than this from the node is a bug, not an attack. */
const MAX_INBOUND_FRAME_BYTES = 256 * 1024 * 1024;

const socket = new net.Socket({ fd: 3, readable: true, writable: true });
const reader = new FrameReader(MAX_INBOUND_FRAME_BYTES);
const activeResources = process.getActiveResourcesInfo.bind(process);
const exitSandbox = process.exit.bind(process);
let loaded: { readonly id: string; readonly fn: IsolatedFunction } | undefined;
let current: Invocation | undefined;
let lastSerial = 0;

function post(message: FromThread): void {
  const frame = encodeFrame(message);
  const cap = OUTPUT_MESSAGE_BYTES[message.t];
  if (cap !== undefined && frame.length > cap) {
    throw new RangeError(`a ${message.t} value takes ${frame.length} bytes; at most ${cap} are allowed`);
  }
  socket.write(frame);
}

// ── mailbox figures, coalesced to one status message per turn of the event loop ──────────────

let taken = 0;
let waiting = false;
let statusFlush: ReturnType<typeof setImmediate> | undefined;

function flushStatus(): void {
  statusFlush = undefined;
  post({ t: 'status', serial: lastSerial, taken, waiting });
}

function statusChanged(): void {
  statusFlush ??= setImmediate(flushStatus);
}

/** The invocation is over: its figures no longer matter, and a pending flush must not count as work left behind. */
function dropStatus(): void {
  if (statusFlush !== undefined) clearImmediate(statusFlush);
  statusFlush = undefined;
}

const channel: InvocationChannel = {
  post,
  taken(serial) {
    if (serial !== lastSerial) return;
    taken++;
    statusChanged();
  },
  waiting(serial, on) {
    if (serial !== lastSerial || waiting === on) return;
    waiting = on;
    statusChanged();
  },
};

// ── fetch, performed by the node under its egress policy ──────────────────────────────────────

const pendingFetches = new Map<number, { resolve(response: FetchResponse): void; reject(error: Error): void }>();
let nextFetch = 0;

async function sandboxFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const serial = lastSerial;
  if (current?.serial !== serial) throw new TypeError('fetch is only available while the job runs.');
  const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
  const wire: FetchRequest = {
    url: request.url,
    method: request.method,
    headers: [...request.headers],
    ...(body === undefined ? {} : { body }),
  };
  const id = ++nextFetch;
  const response = await new Promise<FetchResponse>((resolve, reject) => {
    pendingFetches.set(id, { resolve, reject });
    const signal = init?.signal ?? request.signal;
    signal?.addEventListener(
      'abort',
      () => {
        pendingFetches.delete(id);
        reject(
          signal.reason instanceof Error ? signal.reason : new DOMException('The fetch was aborted.', 'AbortError'),
        );
      },
      { once: true },
    );
    post({ t: 'fetch', serial, id, request: wire });
  });
  const nullBody =
    response.status === 204 || response.status === 205 || response.status === 304 || request.method === 'HEAD';
  const result = new Response(nullBody ? null : response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers as [string, string][],
  });
  Object.defineProperty(result, 'url', { value: response.url });
  Object.defineProperty(result, 'redirected', { value: response.redirected });
  return result;
}

function fetched(message: Extract<ToThread, { t: 'fetched' }>): void {
  const pending = pendingFetches.get(message.id);
  if (!pending || message.serial !== lastSerial) return;
  pendingFetches.delete(message.id);
  if (message.response) pending.resolve(message.response);
  else pending.reject(new TypeError(`fetch failed: ${message.error ?? 'no response'}`));
}

// ── loading and running the function ─────────────────────────────────────────────────────────

async function load(moduleId: string, source: string | undefined): Promise<IsolatedFunction> {
  if (loaded?.id === moduleId) return loaded.fn;
  if (loaded !== undefined) throw new Error(`This sandbox runs ${loaded.id}; it cannot load ${moduleId}.`);
  if (source === undefined)
    throw new Error(`Function ${moduleId} is not loaded in this sandbox and no source came with it.`);
  const module = compileFunctionModule(source, `beamline-function:${moduleId.replace(/\s/g, '_')}`);
  await linkFunctionModule(module);
  await module.evaluate();
  const exported = (module.namespace as { default?: unknown }).default;
  if (typeof exported !== 'function') {
    throw new TypeError(
      `Function module ${moduleId} must have a default export "async (input, ctx) => result"; its default export is ${typeof exported}.`,
    );
  }
  loaded = { id: moduleId, fn: exported as IsolatedFunction };
  return loaded.fn;
}

function reportFault(fault: Fault, error: unknown): void {
  post({ t: 'fault', serial: lastSerial, fault, error: toTransferred(error) });
}

/**
 * Whether the finished invocation left timers or other work that keeps the event loop alive: a
 * fault it raises later would be blamed on the next process, so such a sandbox is not reused.
 * The channel to the node does not count; timers count whether ref'd or not.
 */
function leftWorkBehind(): boolean {
  return timers.count > 0 || activeResources().some((resource) => resource !== 'PipeWrap' && resource !== 'WriteWrap');
}

async function invoke(message: Extract<ToThread, { t: 'invoke' }>): Promise<void> {
  lastSerial = message.serial;
  taken = 0;
  waiting = false;
  const invocation = new Invocation(
    message.serial,
    message.pid,
    message.nodeId,
    message.trapExit,
    channel,
    message.output,
  );
  current = invocation;
  let outcome: Outcome;
  try {
    const fn = await load(message.moduleId, message.source);
    outcome = { kind: 'return', value: await fn(message.input, invocation) };
  } catch (error) {
    outcome =
      error instanceof ProcessExit && error.pid === message.pid
        ? { kind: 'exit', reason: error.reason }
        : { kind: 'throw', error: toTransferred(error) };
  }
  current = undefined;
  invocation.end(outcome.kind === 'exit' ? outcome.reason : 'normal');
  for (const pending of pendingFetches.values()) pending.reject(new TypeError('The job ended.'));
  pendingFetches.clear();
  dropStatus();
  const reusable = !leftWorkBehind();
  const { dropped } = invocation;
  try {
    post({ t: 'done', serial: message.serial, outcome, reusable, dropped });
  } catch (error) {
    const what = outcome.kind === 'return' ? 'returned a value' : 'exited with a reason';
    const uncopyable = new TypeError(
      `The function ${what} that cannot be copied out of its sandbox (${error instanceof Error ? error.message : String(error)}); return plain data.`,
    );
    post({
      t: 'done',
      serial: message.serial,
      outcome: { kind: 'throw', error: toTransferred(uncopyable) },
      reusable,
      dropped,
    });
  }
}

function onMessage(message: ToThread): void {
  switch (message.t) {
    case 'invoke':
      void invoke(message);
      break;
    case 'msg':
      if (current?.serial === message.serial) current.deliver(message.message);
      break;
    case 'reply':
      if (current?.serial === message.serial) current.answer(message.id, message.value, message.error);
      break;
    case 'fetched':
      fetched(message);
      break;
  }
}

process.on('uncaughtException', (error) => reportFault('uncaught_exception', error));
process.on('unhandledRejection', (reason) => reportFault('unhandled_rejection', reason));
socket.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(chunk)) onMessage(frame.value as ToThread);
});
socket.on('close', () => exitSandbox(0));
socket.on('error', () => exitSandbox(0));

const timers = new JobTimers();
timers.install();
const stuck = confineGlobals(
  { log: (level, line) => current?.log(line, level) },
  sandboxFetch as typeof globalThis.fetch,
);
if (stuck.length > 0) {
  throw new Error(`The sandbox could not remove these globals: ${stuck.join(', ')}.`);
}
post({ t: 'ready' });
