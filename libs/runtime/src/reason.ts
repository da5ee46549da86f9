import type { Pid } from './pid.js';

/**
 * Why a process ended. As in Erlang, any value may be a reason (so the type is `unknown`); these
 * are the ones the runtime itself produces or gives a meaning to:
 * - `'normal'`: the body returned, or the process called `exit('normal')`;
 * - `'kill'`: sent with `exit(pid, 'kill')`, cannot be trapped; the victim ends with `'killed'`;
 * - `'shutdown'` and `{ shutdown: detail }`: an orderly stop asked by a supervisor;
 * - `'noproc'`: the target of a link or monitor did not exist;
 * - `'noconnection'`: the target lives on a node this node cannot reach;
 * - `{ error }`: the body threw or rejected with `error`.
 */
export type ExitReason = unknown;

/** The reasons the runtime itself gives a meaning to. */
export type WellKnownReason = 'normal' | 'kill' | 'killed' | 'shutdown' | 'noproc' | 'noconnection';

export interface ShutdownReason {
  readonly shutdown: unknown;
}

export interface ErrorReason {
  readonly error: unknown;
}

export function isErrorReason(reason: ExitReason): reason is ErrorReason {
  return typeof reason === 'object' && reason !== null && !Array.isArray(reason) && 'error' in reason;
}

/** `'shutdown'` or `{ shutdown: detail }`. */
export function isShutdownReason(reason: ExitReason): reason is 'shutdown' | ShutdownReason {
  if (reason === 'shutdown') return true;
  return (
    typeof reason === 'object' &&
    reason !== null &&
    !Array.isArray(reason) &&
    'shutdown' in reason &&
    Object.keys(reason).length === 1
  );
}

/** The reasons after which a transient child is not restarted: normal, shutdown, {shutdown, _}. */
export function isOrderlyExit(reason: ExitReason): boolean {
  return reason === 'normal' || isShutdownReason(reason);
}

/** The labels exits are counted under; any other reason counts as `other`, so the set stays small. */
export const REASON_LABELS = [
  'normal',
  'shutdown',
  'kill',
  'killed',
  'noproc',
  'noconnection',
  'timeout',
  'cpu_limit',
  'memory_limit',
  'cancelled',
  'error',
  'other',
] as const;
export type ReasonLabel = (typeof REASON_LABELS)[number];

/** A label from a small fixed set, for counting exits by reason (metrics, stats). */
export function reasonLabel(reason: ExitReason): ReasonLabel {
  if (typeof reason === 'string')
    return (REASON_LABELS as readonly string[]).includes(reason) ? (reason as ReasonLabel) : 'other';
  if (isErrorReason(reason)) return 'error';
  if (isShutdownReason(reason)) return 'shutdown';
  return 'other';
}

/** A readable one-line description of a reason, for errors and logs. */
export function describeReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if (isErrorReason(reason)) {
    const error = reason.error;
    return error instanceof Error ? `error: ${error.name}: ${error.message}` : `error: ${safeJson(error)}`;
  }
  return safeJson(reason);
}

function safeJson(value: unknown): string {
  try {
    const errorsAsText = (_key: string, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v);
    return JSON.stringify(value, errorsAsText) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Thrown by `ctx.exit(reason)` to end the calling process with `reason` (Erlang's `exit/1`).
 * The process's body should let it propagate.
 */
export class ProcessExit extends Error {
  constructor(
    readonly pid: Pid,
    readonly reason: ExitReason,
  ) {
    super(`process ${pid} exited: ${describeReason(reason)}`);
    this.name = 'ProcessExit';
  }
}
