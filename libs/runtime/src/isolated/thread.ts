import { readlinkSync } from 'node:fs';
import v8 from 'node:v8';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { ProcessExit } from '../reason.js';
import type { IsolatedFunction } from './function-context.js';
import { Invocation } from './invocation.js';
import { type Fault, type FromThread, type Outcome, SHARED, type ToThread } from './protocol.js';
import { toTransferred } from './transfer.js';

/**
 * The entry point of an isolate thread: loads one function module, runs invocations of it one
 * at a time, and reports faults that escape the body. Never imported by the main thread.
 */

interface ThreadData {
  readonly shared: SharedArrayBuffer;
  readonly heapSampleMs: number;
}

const port = parentPort as MessagePort;
const data = workerData as ThreadData;
const shared = new Int32Array(data.shared);
let loaded: { readonly id: string; readonly fn: IsolatedFunction } | undefined;
let current: Invocation | undefined;
let lastSerial = 0;

function post(message: FromThread): void {
  port.postMessage(message);
}

/** Linux thread id, for the node to read this thread's CPU time and set its nice value. */
function threadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

function sampleHeap(): void {
  Atomics.store(shared, SHARED.heapKiB, Math.round(v8.getHeapStatistics().used_heap_size / 1024));
}

function reportFault(fault: Fault, error: unknown): void {
  post({ t: 'fault', serial: lastSerial, fault, error: toTransferred(error) });
}

process.on('uncaughtException', (error) => reportFault('uncaught_exception', error));
process.on('unhandledRejection', (reason) => reportFault('unhandled_rejection', reason));

/**
 * Whether the finished invocation left timers, immediates, sockets or other handles that keep
 * the event loop alive: a fault they raise later would be blamed on the next process, so such a
 * thread is not reused. The thread's own port and its unref'd heap sampler do not count.
 */
function leftWorkBehind(): boolean {
  return process.getActiveResourcesInfo().some((resource) => resource !== 'MessagePort');
}

async function load(moduleId: string, source: string | undefined): Promise<IsolatedFunction> {
  if (loaded?.id === moduleId) return loaded.fn;
  if (source === undefined)
    throw new Error(`Function ${moduleId} is not loaded on this thread and no source came with it.`);
  const named = `${source}\n//# sourceURL=beamline-function:${moduleId.replace(/\s/g, '_')}\n`;
  const url = `data:text/javascript;base64,${Buffer.from(named, 'utf8').toString('base64')}`;
  const module = (await import(url)) as { default?: unknown };
  if (typeof module.default !== 'function') {
    throw new TypeError(
      `Function module ${moduleId} must have a default export "async (input, ctx) => result"; its default export is ${typeof module.default}.`,
    );
  }
  loaded = { id: moduleId, fn: module.default as IsolatedFunction };
  return loaded.fn;
}

async function invoke(message: Extract<ToThread, { t: 'invoke' }>): Promise<void> {
  lastSerial = message.serial;
  const invocation = new Invocation(message.serial, message.pid, message.nodeId, message.trapExit, port, shared);
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
  sampleHeap();
  const reusable = !leftWorkBehind();
  try {
    post({ t: 'done', serial: message.serial, outcome, reusable });
  } catch (error) {
    const what = outcome.kind === 'return' ? 'returned a value' : 'exited with a reason';
    const uncopyable = new TypeError(
      `The function ${what} that cannot be copied out of its isolate (${error instanceof Error ? error.message : String(error)}); return plain data.`,
    );
    post({ t: 'done', serial: message.serial, outcome: { kind: 'throw', error: toTransferred(uncopyable) }, reusable });
  }
}

port.on('message', (message: ToThread) => {
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
  }
});

setInterval(sampleHeap, data.heapSampleMs).unref();
sampleHeap();
post({ t: 'ready', tid: threadId() });
