/**
 * The one vocabulary of job states and exit reasons: the store derives them, the API and its
 * OpenAPI document show them.
 */
export const JOB_STATES = ['waiting', 'delayed', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The states in which a job has ended for good (it leaves its tenant's backlog). */
export const ENDED_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

/**
 * Why a run ended abnormally. `error`: the job threw or faulted; the limits; `killed` by a
 * signal; `cancelled` by a user; `shutdown` of its node; `stalled`: its node stopped renewing
 * the job's lock (it crashed or froze) too often; `other`: job code exited with its own reason.
 */
export const EXIT_REASONS = [
  'error',
  'timeout',
  'cpu_limit',
  'memory_limit',
  'killed',
  'cancelled',
  'shutdown',
  'stalled',
  'other',
] as const;
export type ExitReasonName = (typeof EXIT_REASONS)[number];

/** Faults outside a job's body, carried with `error`. */
export const FAULTS = ['uncaught_exception', 'unhandled_rejection', 'sandbox_crashed', 'protocol_violation'] as const;

/** BullMQ's states, in the one vocabulary (`failed` splits into failed and cancelled by the exit). */
export function jobStateOf(bullmqState: string, exitReason: string | undefined): JobState {
  switch (bullmqState) {
    case 'active':
      return 'running';
    case 'delayed':
      return 'delayed';
    case 'completed':
      return 'completed';
    case 'failed':
      return exitReason === 'cancelled' ? 'cancelled' : 'failed';
    default:
      return 'waiting';
  }
}
