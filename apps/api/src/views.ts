import { ENDED_STATES, type JobState, type JobView } from '@beamline/jobs';

export type ApiJobState = JobState;

/** A job as the API shows it. */
export interface ApiJob {
  readonly id: string;
  readonly state: ApiJobState;
  readonly function: string;
  readonly version: number;
  readonly priority: string;
  readonly input: unknown;
  readonly attempts: { readonly made: number; readonly max: number };
  readonly progress: unknown;
  readonly pid?: string;
  readonly node?: string;
  readonly result?: unknown;
  readonly exit?: {
    readonly reason: string;
    readonly message?: string;
    readonly stack?: string;
    readonly fault?: string;
  };
  readonly submittedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export const ENDED: ReadonlySet<ApiJobState> = ENDED_STATES;

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/** `pid`: where the job's process runs, when the job runs and its node has said so (heartbeat). */
export function toApiJob(view: JobView, pid?: string): ApiJob {
  const { state, exit } = view;
  const running = state === 'running';
  return {
    id: view.id,
    state,
    function: view.function,
    version: view.version,
    priority: view.priority,
    input: view.input,
    attempts: { made: view.attemptsMade, max: view.attempts },
    progress: view.progress,
    ...(running && pid ? { pid } : {}),
    ...(running && view.node ? { node: view.node } : {}),
    ...(state === 'completed' ? { result: view.result } : {}),
    ...(exit
      ? {
          exit: {
            reason: exit.reason,
            message: exit.message,
            ...(exit.error?.stack ? { stack: exit.error.stack } : {}),
            ...(exit.fault ? { fault: exit.fault } : {}),
          },
        }
      : {}),
    submittedAt: iso(view.submittedAt) as string,
    ...(view.startedAt ? { startedAt: iso(view.startedAt) as string } : {}),
    ...(view.finishedAt ? { finishedAt: iso(view.finishedAt) as string } : {}),
  };
}
