import { ENDED_STATES, type ExitReasonName, type JobPriority, type JobState, type JobView } from '@beamline/jobs';
import type { z } from '@hono/zod-openapi';
import type { jobSchema } from './contract/jobs.js';

/** A job as the API shows it (the Job schema of the OpenAPI document). */
export type ApiJob = z.output<typeof jobSchema>;

type Fault = NonNullable<ApiJob['exit']>['fault'];

export const ENDED: ReadonlySet<JobState> = ENDED_STATES;

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
    // The store keeps what the submission validated: one of the schemas' priorities and exit reasons.
    priority: view.priority as JobPriority,
    input: view.input,
    attempts: { made: view.attemptsMade, max: view.attempts },
    progress: view.progress,
    ...(running && pid ? { pid } : {}),
    ...(running && view.node ? { node: view.node } : {}),
    ...(state === 'completed' ? { result: view.result } : {}),
    ...(exit
      ? {
          exit: {
            reason: exit.reason as ExitReasonName,
            message: exit.message,
            ...(exit.error?.stack ? { stack: exit.error.stack } : {}),
            ...(exit.fault ? { fault: exit.fault as Fault } : {}),
          },
        }
      : {}),
    submittedAt: iso(view.submittedAt) as string,
    ...(view.startedAt ? { startedAt: iso(view.startedAt) as string } : {}),
    ...(view.finishedAt ? { finishedAt: iso(view.finishedAt) as string } : {}),
    ...(view.schedule ? { schedule: view.schedule } : {}),
    ...(view.parent ? { parent: { ...view.parent } } : {}),
    ...(view.children
      ? { children: { total: view.children.total, ...(view.children.ids ? { ids: [...view.children.ids] } : {}) } }
      : {}),
  };
}
