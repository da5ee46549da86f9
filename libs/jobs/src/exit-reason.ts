import { type ExitReason, isErrorReason, reasonLabel } from '@beamline/runtime';
import { boundedJson, truncated } from './bounded-json.js';
import { EXIT_REASONS, FAULTS } from './store/job-state.js';

/** Job code chooses its errors: what the platform keeps of one is cut to these lengths. */
const MAX_MESSAGE = 8192;
const MAX_STACK = 32_768;

/** Why a job's process ended, as plain data for the API and dead letters. */
export interface JobExit {
  /** One of EXIT_REASONS (store/job-state.ts). */
  readonly reason: string;
  readonly message: string;
  readonly error?: { readonly name: string; readonly message: string; readonly stack: string | undefined };
  /** For faults outside the body: uncaught_exception, unhandled_rejection, sandbox_crashed, protocol_violation. */
  readonly fault?: string;
  readonly at: number;
}

export function describeExit(reason: ExitReason, at = Date.now()): JobExit {
  if (isErrorReason(reason)) {
    const error = reason.error;
    // Job code can exit with an error reason of its own making: only the runtime's faults are kept.
    const fault = (reason as { fault?: unknown }).fault;
    const details =
      error instanceof Error
        ? {
            name: truncated(error.name, 200),
            message: truncated(error.message, MAX_MESSAGE),
            stack: error.stack === undefined ? undefined : truncated(error.stack, MAX_STACK),
          }
        : { name: 'Error', message: truncated(String(error), MAX_MESSAGE), stack: undefined };
    return {
      reason: 'error',
      message: `${details.name}: ${details.message}`,
      error: details,
      ...(typeof fault === 'string' && (FAULTS as readonly string[]).includes(fault) ? { fault } : {}),
      at,
    };
  }
  const label = reasonLabel(reason);
  const messages: Record<string, string> = {
    timeout: 'the run took longer than its timeout',
    cpu_limit: 'the run used more CPU time than its limit',
    memory_limit: 'the run used more memory than its memory limit',
    killed: 'the process was killed',
    cancelled: 'the job was cancelled',
    shutdown: 'the worker node shut down',
  };
  const known = label in messages;
  return {
    reason: known ? label : 'other',
    message: known ? (messages[label] as string) : `the process exited: ${describeOther(reason)}`,
    at,
  };
}

/** An exit reason job code chose, as JSON of bounded length. */
function describeOther(reason: ExitReason): string {
  try {
    const written = boundedJson(reason, MAX_MESSAGE);
    return written.fits ? (written.text ?? String(reason)) : '(a reason too large to show)';
  } catch {
    return '(a reason that is not JSON data)';
  }
}

/**
 * A run's exit as the text BullMQ keeps as the job's `failedReason` (written in the same atomic
 * step that ends or retries the run): `<reason>[<fault>]: <message>`, readable as it is in any
 * BullMQ tool. The stack goes to BullMQ's stacktrace.
 */
export function encodeExit(exit: JobExit, where = ''): string {
  const fault = exit.fault ? `[${exit.fault}]` : '';
  return `${exit.reason}${fault}: ${exit.message}${where ? ` ${where}` : ''}`;
}

const ENCODED = /^([a-z_]{1,40})(?:\[([a-z_]{1,40})\])?: ([\s\S]*)$/;

/** The exit a `failedReason` (and the last stacktrace entry) stand for. */
export function decodeExit(failedReason: string, stack: string | undefined, at: number): JobExit {
  const match = ENCODED.exec(failedReason);
  const reason = match?.[1];
  if (!match || reason === undefined || !(EXIT_REASONS as readonly string[]).includes(reason)) {
    // Written by BullMQ itself: a job that stalled more often than allowed, or a lost lock.
    return { reason: /stalled/i.test(failedReason) ? 'stalled' : 'error', message: failedReason, at };
  }
  const message = match[3] ?? '';
  // describeExit wrote `<name>: <message>` for reason `error`: split them back apart.
  const split = message.indexOf(': ');
  const error =
    split > 0
      ? { name: message.slice(0, split), message: message.slice(split + 2), stack }
      : { name: 'Error', message, stack };
  return {
    reason,
    message,
    ...(stack && reason === 'error' ? { error } : {}),
    ...(match[2] ? { fault: match[2] } : {}),
    at,
  };
}
