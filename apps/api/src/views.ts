import type { JobView } from '@beamline/jobs';

export type ApiJobState = 'waiting' | 'delayed' | 'running' | 'completed' | 'failed' | 'cancelled';

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

export const ENDED: ReadonlySet<ApiJobState> = new Set(['completed', 'failed', 'cancelled']);

export function apiState(view: JobView): ApiJobState {
  switch (view.state) {
    case 'active':
      return 'running';
    case 'delayed':
      return 'delayed';
    case 'completed':
      return 'completed';
    case 'failed':
      return view.exit?.reason === 'cancelled' ? 'cancelled' : 'failed';
    default:
      return 'waiting';
  }
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);

export function toApiJob(view: JobView): ApiJob {
  const state = apiState(view);
  const exit =
    state === 'failed' || state === 'cancelled' || (state !== 'completed' && view.exit) ? view.exit : undefined;
  return {
    id: view.id,
    state,
    function: view.function,
    version: view.version,
    priority: view.priority,
    input: view.input,
    attempts: { made: view.attemptsMade, max: view.attempts },
    progress: view.progress,
    ...(state === 'running' && view.running ? { pid: view.running.pid, node: view.running.node } : {}),
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
