import { type BeamlineClient, hasEnded } from '../client/client.js';
import type { Job } from '../client/types.js';
import { exitSummary, formatDuration, inline, jobLine, runTime } from './format.js';
import type { Output } from './output.js';

export interface FollowOptions {
  readonly signal?: AbortSignal;
  /** Put before every line (`[job 12] `), when several jobs are followed at once. */
  readonly prefix?: string;
  /** With --json: each event as a JSON line on stdout (else nothing until the end). */
  readonly jsonEvents?: boolean;
}

/**
 * Follows a job's events until it ends, showing state changes, progress and log lines on stderr
 * (text mode). Resolves with the ended job, or undefined when `signal` stopped it first.
 */
export async function followJob(
  client: BeamlineClient,
  jobId: string,
  out: Output,
  options: FollowOptions = {},
): Promise<Job | undefined> {
  const prefix = options.prefix ?? '';
  let lastState: string | undefined;
  for await (const event of client.events(jobId, options.signal ? { signal: options.signal } : {})) {
    if (options.jsonEvents) out.jsonLine({ jobId, ...event });
    switch (event.type) {
      case 'state':
        // An ended state is said by the `end` that follows.
        if (event.job.state !== lastState && !hasEnded(event.job)) out.note(`${prefix}${jobLine(event.job)}`);
        lastState = event.job.state;
        break;
      case 'progress':
        out.note(`${prefix}progress ${inline(event.progress)}`);
        break;
      case 'log':
        out.note(`${prefix}${event.line}`);
        break;
      case 'end':
        out.note(`${prefix}${endLine(event.job)}`);
        return event.job;
    }
  }
  return undefined;
}

/** `job 12 completed in 1.20 s` or `job 12 failed: error: boom`. */
export function endLine(job: Job): string {
  if (job.state === 'completed') return `job ${job.id} completed in ${formatDuration(runTime(job))}`;
  return `job ${job.id} ${job.state}: ${exitSummary(job)}`;
}
