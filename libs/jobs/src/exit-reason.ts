import { type ExitReason, isErrorReason, reasonLabel } from '@beamline/runtime';
import { boundedJson, truncated } from './bounded-json.js';

/** Job code chooses its errors: what the platform keeps of one is cut to these lengths. */
const MAX_MESSAGE = 8192;
const MAX_STACK = 32_768;

/** Why a job's process ended, as plain data for the API and dead letters. */
export interface JobExit {
  /** normal, error, timeout, cpu_limit, memory_limit, killed, cancelled, shutdown, noproc, other … */
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
      ...(typeof fault === 'string' ? { fault } : {}),
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
  return { reason: label, message: messages[label] ?? `the process exited: ${describeOther(reason)}`, at };
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
