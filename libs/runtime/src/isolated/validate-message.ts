import { isPid } from '../pid.js';
import { PRIORITIES } from '../priority.js';
import { type FromThread, LOG_LEVELS } from './protocol.js';

/**
 * Checks a message that came from a sandbox. Job code is hostile, and if it gets past the
 * sandbox's own runtime it can write anything on its channel: every field the node reads is
 * checked here, once, before the scheduler acts. Returns the message, or why it is refused.
 */

const MAX_NAME = 256;
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

function isOutcome(value: unknown): boolean {
  if (!isObject(value) || !OUTCOMES.has(value.kind as string)) return false;
  if (value.kind === 'throw') return isTransferredError(value.error);
  return true;
}

/** Each message type's fields, beside `t` and (for all but `ready`) a serial. */
const CHECKS: Record<FromThread['t'], (m: Fields) => boolean> = {
  ready: () => true,
  status: (m) => isSerial(m.taken) && typeof m.waiting === 'boolean',
  fetch: (m) => isSerial(m.id) && isFetchRequest(m.request),
  done: (m) => isOutcome(m.outcome) && typeof m.reusable === 'boolean',
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
  progress: (m) => 'value' in m,
  log: (m) => (LOG_LEVELS as readonly unknown[]).includes(m.level) && 'message' in m,
};

export function validateFromSandbox(value: unknown): FromThread | string {
  if (!isObject(value)) return 'a message that is not an object';
  const type = value.t;
  if (typeof type !== 'string' || !Object.hasOwn(CHECKS, type))
    return `a message of unknown type ${JSON.stringify(String(type).slice(0, 40))}`;
  if (type !== 'ready' && !isSerial(value.serial)) return `a ${type} message without a serial`;
  if (!CHECKS[type as FromThread['t']](value)) return `a malformed ${type} message`;
  return value as FromThread;
}
