import { isPid } from '../pid.js';
import { PRIORITIES } from '../priority.js';
import { type FromThread, LOG_LEVELS, OUTPUT_MESSAGE_BYTES } from './protocol.js';

/**
 * Checks a message that came from a sandbox. Job code is hostile, and if it gets past the
 * sandbox's own runtime it can write anything on its channel: every field the node reads is
 * checked here, once, before the scheduler acts. Returns the message, or why it is refused.
 */

const MAX_NAME = 256;
/** Nesting beyond this is refused: JSON and the node's own code recurse on values. */
const MAX_DEPTH = 200;
/** Room given to small values above their serialized size. */
const EXPANSION_SLACK = 4096;
const MAX_URL = 8192;
const MAX_HEADERS = 256;
const MAX_HEADER_BYTES = 16 * 1024;
const FAULTS = new Set(['uncaught_exception', 'unhandled_rejection']);
const RELATIONS = new Set(['none', 'link', 'monitor']);
const OUTCOMES = new Set(['return', 'exit', 'throw']);

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSerial = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isShortString = (value: unknown, max = MAX_NAME): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max;
const isDropped = (value: unknown): boolean =>
  isObject(value) && isSerial(value.log) && isSerial(value.progress) && Object.keys(value).length === 2;
const isTarget = (value: unknown): boolean => isPid(value) || isShortString(value);

function isTransferredError(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    (value.stack === undefined || typeof value.stack === 'string') &&
    (value.code === undefined || typeof value.code === 'string')
  );
}

function isHeaders(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > MAX_HEADERS) return false;
  return value.every(
    (pair) =>
      Array.isArray(pair) &&
      pair.length === 2 &&
      typeof pair[0] === 'string' &&
      typeof pair[1] === 'string' &&
      pair[0].length + pair[1].length <= MAX_HEADER_BYTES,
  );
}

function isFetchRequest(value: unknown): boolean {
  return (
    isObject(value) &&
    isShortString(value.url, MAX_URL) &&
    isShortString(value.method, 16) &&
    isHeaders(value.headers) &&
    (value.body === undefined || value.body instanceof Uint8Array)
  );
}

function isSpawnOptions(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { priority, trapExit, timeoutMs, cpuMs, memoryMb } = value;
  return (
    (priority === undefined || (PRIORITIES as readonly unknown[]).includes(priority)) &&
    (trapExit === undefined || typeof trapExit === 'boolean') &&
    [timeoutMs, cpuMs, memoryMb].every((n) => n === undefined || typeof n === 'number')
  );
}

/**
 * The options of a startJob request, each of its type. Other fields are never read: the node
 * copies these and stamps the tenant and the parent itself, so a forged `tenant` changes nothing.
 */
function isStartJobOptions(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { link, monitor, key, priority, timeoutMs, cpuMs, memoryMb, attempts, delayMs } = value;
  return (
    [link, monitor].every((flag) => flag === undefined || typeof flag === 'boolean') &&
    (key === undefined || isShortString(key)) &&
    (priority === undefined || (PRIORITIES as readonly unknown[]).includes(priority)) &&
    [timeoutMs, cpuMs, memoryMb, attempts, delayMs].every((n) => n === undefined || typeof n === 'number')
  );
}

function isOutcome(value: unknown): boolean {
  if (!isObject(value) || !OUTCOMES.has(value.kind as string)) return false;
  if (value.kind === 'throw') return isTransferredError(value.error);
  return true;
}

/**
 * Whether a value, written out as a tree (as JSON, a log line or a description of it would be),
 * stays within `budget` units: one per node plus the length of every string, byte array and
 * array (holes included: `a.length = 2 ** 32 - 1` is four bytes on the wire).
 * V8's serializer writes an object referenced twice only once, so a few hundred bytes can stand
 * for a tree of 2^40 nodes; the node would freeze the first time it stringified one. The walk
 * stops as soon as the budget is spent, so it costs at most `budget` steps.
 */
export function withinExpansionBudget(value: unknown, budget: number, asJson = false): boolean {
  let left = budget;
  const onPath = new Set<object>();
  const visit = (v: unknown, depth: number): boolean => {
    left -= 1;
    if (typeof v === 'string') left -= v.length;
    if (left < 0 || depth > MAX_DEPTH) return false;
    if (typeof v !== 'object' || v === null) return true;
    if (ArrayBuffer.isView(v)) {
      // Written out as JSON, a typed array is an object of its elements by index ({"0":0,…}):
      // a review's 1.3 MB Uint8Array result became 14.5 MB of JSON, seconds of the node's time.
      const asElements = asJson && !(v instanceof DataView);
      const { length, BYTES_PER_ELEMENT: width } = v as unknown as { length: number; BYTES_PER_ELEMENT: number };
      left -= asElements ? length * jsonBytesPerElement(width) : v.byteLength;
      return left >= 0;
    }
    if (v instanceof ArrayBuffer) {
      left -= v.byteLength;
      return left >= 0;
    }
    if (onPath.has(v)) return true; // a cycle: written once, never expanded
    // A sparse array is written as its few elements, but written out it has `length` of them.
    if (Array.isArray(v)) left -= v.length;
    if (left < 0) return false;
    onPath.add(v);
    const ok = visitChildren(v, depth + 1);
    onPath.delete(v);
    return ok;
  };
  // What a walk visits below an object: its keys (charged as strings) and its values, in order,
  // without copying them first (a review's 2.5 million-entry Map took 3.7 s to copy and walk).
  const visitKey = (key: string): boolean => {
    left -= key.length;
    return left >= 0;
  };
  const visitChildren = (v: object, depth: number): boolean => {
    if (v instanceof Map) {
      for (const [key, value] of v) if (!visit(key, depth) || !visit(value, depth)) return false;
      return true;
    }
    if (v instanceof Set) {
      for (const value of v) if (!visit(value, depth)) return false;
      return true;
    }
    if (v instanceof Error) {
      const { message, stack, cause } = v as Error & { cause?: unknown };
      if (!visit(message, depth) || !visit(stack, depth) || !visit(cause, depth)) return false;
    }
    for (const key of Object.keys(v)) {
      if (!visitKey(key) || !visit((v as Fields)[key], depth)) return false;
    }
    return true;
  };
  return visit(value, 0);
}

/**
 * What one element of a typed array takes, about, written out as JSON: its index in quotes, a
 * colon, the number and a comma ("104857":255, for a byte; 11 plus 3 a byte of width).
 */
const jsonBytesPerElement = (width: number): number => 11 + 3 * width;

/** Message types whose value the node writes out as JSON (a result, progress, a log line, a child job's input, an exit reason). */
const WRITTEN_AS_JSON = new Set<FromThread['t']>(['done', 'progress', 'log', 'startJob', 'exit', 'fault']);

/** The fields of each message type that carry a value job code chose. */
const PAYLOADS: Partial<Record<FromThread['t'], (m: Fields) => unknown[]>> = {
  done: (m) => [(m.outcome as Fields).value, (m.outcome as Fields).reason, (m.outcome as Fields).error],
  fault: (m) => [m.error],
  send: (m) => [m.message],
  exit: (m) => [m.reason],
  spawn: (m) => [m.input],
  startJob: (m) => [m.input],
  progress: (m) => [m.value],
  log: (m) => [m.message],
};

/** Each message type's fields, beside `t` and (for all but `ready`) a serial. */
const CHECKS: Record<FromThread['t'], (m: Fields) => boolean> = {
  ready: () => true,
  status: (m) => isSerial(m.taken) && typeof m.waiting === 'boolean',
  fetch: (m) => isSerial(m.id) && isFetchRequest(m.request),
  done: (m) => isOutcome(m.outcome) && typeof m.reusable === 'boolean' && isDropped(m.dropped),
  fault: (m) => FAULTS.has(m.fault as string) && isTransferredError(m.error),
  send: (m) => isTarget(m.to) && 'message' in m,
  exit: (m) => isPid(m.to) && 'reason' in m,
  link: (m) => isPid(m.pid),
  unlink: (m) => isPid(m.pid),
  monitor: (m) => isShortString(m.ref) && isTarget(m.target),
  demonitor: (m) => isShortString(m.ref),
  trap: (m) => typeof m.on === 'boolean',
  spawn: (m) =>
    isSerial(m.id) &&
    isShortString(m.fn) &&
    isSpawnOptions(m.options) &&
    RELATIONS.has(m.relation as string) &&
    (m.ref === undefined || isShortString(m.ref)),
  startJob: (m) => isSerial(m.id) && isShortString(m.fn) && isStartJobOptions(m.options),
  awaitJob: (m) => isSerial(m.id) && isShortString(m.job, 100),
  progress: (m) => 'value' in m,
  log: (m) => (LOG_LEVELS as readonly unknown[]).includes(m.level) && 'message' in m,
};

/**
 * `frameBytes` is the size the message had on the wire: a value may expand to at most about
 * twice that when written out (see withinExpansionBudget).
 */
export function validateFromSandbox(value: unknown, frameBytes: number): FromThread | string {
  if (!isObject(value)) return 'a message that is not an object';
  const type = value.t;
  if (typeof type !== 'string' || !Object.hasOwn(CHECKS, type)) {
    return `a message of unknown type ${JSON.stringify(String(type).slice(0, 40))}`;
  }
  if (type !== 'ready' && !isSerial(value.serial)) return `a ${type} message without a serial`;
  if (!CHECKS[type as FromThread['t']](value)) return `a malformed ${type} message`;
  const cap = OUTPUT_MESSAGE_BYTES[type];
  if (cap !== undefined && frameBytes > cap) return `a ${type} message of ${frameBytes} bytes (at most ${cap})`;
  const payloads = PAYLOADS[type as FromThread['t']]?.(value) ?? [];
  const budget = 2 * frameBytes + EXPANSION_SLACK;
  const asJson = WRITTEN_AS_JSON.has(type as FromThread['t']);
  if (!payloads.every((payload) => withinExpansionBudget(payload, budget, asJson))) {
    return `a ${type} value that, written out, is far larger than what was sent (objects shared many times over, typed arrays that JSON writes out element by element, or nested deeper than ${MAX_DEPTH} levels)`;
  }
  return value as FromThread;
}
