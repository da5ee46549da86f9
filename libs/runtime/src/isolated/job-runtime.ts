import { formatWithOptions } from 'node:util';
import vm from 'node:vm';
import type { LogLevel } from './protocol.js';

/**
 * The globals job code sees, installed in a sandbox process before any job code loads. Runs in
 * the sandbox, never in the node.
 *
 * Job code gets what ECMAScript defines plus a Workers-like runtime (the list below); every
 * other global Node adds (`process`, `setImmediate`, `BroadcastChannel`, `WebSocket`, storage)
 * is removed. This is the API surface, not the security boundary: the sandbox process
 * itself (namespaces, permission model, rlimits) is what holds if job code gets past it.
 */
export const JOB_RUNTIME_GLOBALS = [
  'console',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'queueMicrotask',
  'structuredClone',
  'fetch',
  'Request',
  'Response',
  'Headers',
  'FormData',
  'Blob',
  'File',
  'URL',
  'URLSearchParams',
  'TextEncoder',
  'TextDecoder',
  'TextEncoderStream',
  'TextDecoderStream',
  'AbortController',
  'AbortSignal',
  'Event',
  'EventTarget',
  'DOMException',
  'crypto',
  'Crypto',
  'CryptoKey',
  'SubtleCrypto',
  'atob',
  'btoa',
  'performance',
  'ReadableStream',
  'WritableStream',
  'TransformStream',
  'ReadableStreamDefaultReader',
  'WritableStreamDefaultWriter',
  'ByteLengthQueuingStrategy',
  'CountQueuingStrategy',
  'CompressionStream',
  'DecompressionStream',
  // No authority, and Node's own fetch, streams, Blob and structuredClone reach for them at run time.
  'Buffer',
  'global',
  'MessageChannel',
  'MessagePort',
  'MessageEvent',
] as const;

export interface JobConsoleSink {
  /** Where console output goes: the log of the invocation running now (dropped between invocations). */
  log(level: LogLevel, line: string): void;
}

const CONSOLE_LEVELS: Record<string, LogLevel> = {
  debug: 'debug',
  trace: 'debug',
  log: 'info',
  info: 'info',
  warn: 'warn',
  error: 'error',
};

/** A console whose lines become the job's log entries (bounded by the node), never the sandbox's stdout. */
function jobConsole(sink: JobConsoleSink): Console {
  const format = (args: unknown[]) =>
    formatWithOptions({ depth: 4, maxArrayLength: 100, maxStringLength: 10_000 }, ...args);
  const methods: Record<string, (...args: unknown[]) => void> = {};
  for (const [name, level] of Object.entries(CONSOLE_LEVELS)) {
    methods[name] = (...args: unknown[]) => sink.log(level, format(args));
  }
  const ignored = [
    'assert',
    'count',
    'countReset',
    'dir',
    'dirxml',
    'group',
    'groupCollapsed',
    'groupEnd',
    'table',
    'time',
    'timeEnd',
    'timeLog',
  ];
  for (const name of ignored) methods[name] = () => undefined;
  methods.assert = (condition: unknown, ...args: unknown[]) => {
    if (!condition) sink.log('error', `Assertion failed${args.length > 0 ? `: ${format(args)}` : ''}`);
  };
  methods.dir = (value: unknown) => sink.log('info', format([value]));
  methods.table = (value: unknown) => sink.log('info', format([value]));
  return Object.freeze(methods) as unknown as Console;
}

/**
 * Timers job code starts, ref'd or not, and its `Atomics.waitAsync` waits: when an invocation ends with one still pending, its
 * sandbox is not reused (work left behind would run unwatched in a warm sandbox). Node's own
 * `getActiveResourcesInfo` does not list unref'd timers, so it cannot tell.
 */
export class JobTimers {
  private readonly pending = new Map<number, unknown>();
  private asyncWaits = 0;

  /** Timers pending and `Atomics.waitAsync` waits not yet settled. */
  get count(): number {
    return this.pending.size + this.asyncWaits;
  }

  install(): void {
    this.installWaitAsync();
    const { setTimeout: nodeSetTimeout, setInterval: nodeSetInterval, clearTimeout: nodeClear } = globalThis;
    const pending = this.pending;
    const idOf = (timer: unknown) => Number(timer);
    const define = (name: string, value: unknown) =>
      Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
    define('setTimeout', (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      if (typeof callback !== 'function') return nodeSetTimeout(callback, ms, ...args);
      const timer = nodeSetTimeout(
        (...given: unknown[]) => {
          pending.delete(idOf(timer));
          callback(...given);
        },
        ms,
        ...args,
      );
      pending.set(idOf(timer), timer);
      return timer;
    });
    define('setInterval', (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const timer = nodeSetInterval(callback, ms, ...args);
      pending.set(idOf(timer), timer);
      return timer;
    });
    const clear = (timer: unknown) => {
      if (timer === undefined || timer === null) return;
      pending.delete(idOf(timer));
      nodeClear(timer as NodeJS.Timeout);
    };
    define('clearTimeout', clear);
    define('clearInterval', clear);
  }

  /** `Atomics.waitAsync` wakes job code later without any timer: its waits count as work left behind too. */
  private installWaitAsync(): void {
    const atomics = Atomics as unknown as { waitAsync?: (...args: unknown[]) => { async: boolean; value: unknown } };
    const nodeWaitAsync = atomics.waitAsync;
    if (typeof nodeWaitAsync !== 'function') return;
    atomics.waitAsync = (...args: unknown[]) => {
      const result = nodeWaitAsync.apply(Atomics, args);
      if (result.async) {
        this.asyncWaits++;
        void (result.value as Promise<unknown>).finally(() => this.asyncWaits--);
      }
      return result;
    };
  }
}

/** Names ECMAScript itself puts on a global object: those of a fresh context, which has nothing of Node. */
function languageGlobals(): Set<string> {
  return new Set(Object.getOwnPropertyNames(vm.runInNewContext('globalThis')));
}

/**
 * Replaces the sandbox's globals with the job runtime: `console` into the job's log, `fetch`
 * through the node, and nothing of Node's own. Returns what it could not remove (non-configurable
 * properties), which the caller treats as a fault of the runtime.
 */
export function confineGlobals(sink: JobConsoleSink, fetch: typeof globalThis.fetch): string[] {
  const keep = new Set<string>([...languageGlobals(), ...JOB_RUNTIME_GLOBALS]);
  const global = globalThis as unknown as Record<string, unknown>;
  const stuck: string[] = [];
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (keep.has(name)) continue;
    if (!Reflect.deleteProperty(globalThis, name)) {
      try {
        global[name] = undefined;
      } catch {
        stuck.push(name);
      }
      if (global[name] !== undefined) stuck.push(name);
    }
  }
  Object.defineProperty(globalThis, 'console', { value: jobConsole(sink), writable: true, configurable: true });
  Object.defineProperty(globalThis, 'fetch', { value: fetch, writable: true, configurable: true });
  return stuck;
}
