import { when } from '../format.js';
import type { Job } from '../types.js';

/** A state the job page saw the job in, and when: earlier attempts' ends are only known this way. */
export interface Observed {
  readonly at: string;
  readonly job: Job;
}

interface Step {
  readonly key: string;
  readonly at: string | undefined;
  readonly what: string;
  readonly detail?: string | undefined;
  readonly tone?: 'bad' | 'good';
}

/** Where the last run ran, as the worker writes it under the stack of a run that ended abnormally. */
function lastRunOf(job: Job): { attempt: string; pid: string; node: string } | undefined {
  const matches = [...(job.exit?.stack ?? '').matchAll(/\(attempt (\d+): pid (\S+) on node (\S+)\)/g)];
  const last = matches.at(-1);
  return last ? { attempt: last[1] as string, pid: last[2] as string, node: last[3] as string } : undefined;
}

const queued = (state: string) => state === 'waiting' || state === 'delayed';

/** The job's life, from what the API keeps (submitted, last start, last exit, end) and what this page saw live. */
export function timelineOf(job: Job, observed: readonly Observed[]): Step[] {
  const steps: Step[] = [{ key: 'submitted', at: job.submittedAt, what: 'submitted' }];
  if (queued(job.state) && !job.startedAt) steps.push({ key: 'queued', at: job.submittedAt, what: job.state });
  // Runs that ended and were retried while this page was open: attempts made went up, the job was queued again.
  let previous: Observed | undefined;
  for (const seen of observed) {
    if (previous && seen.job.attempts.made > previous.job.attempts.made && !ended(seen.job.state)) {
      steps.push({
        key: `retry-${seen.job.attempts.made}`,
        at: seen.at,
        what: `attempt ${seen.job.attempts.made} ended: ${seen.job.exit?.reason ?? 'abnormally'}, retrying`,
        detail: seen.job.exit?.message,
        tone: 'bad',
      });
    }
    previous = seen;
  }
  const earlier = job.attempts.made - (job.state === 'running' ? 0 : 1);
  const seenRetries = steps.filter((s) => s.key.startsWith('retry-')).length;
  if (earlier > seenRetries && earlier > 0 && job.startedAt) {
    steps.push({
      key: 'earlier',
      at: undefined,
      what: `${earlier - seenRetries} earlier attempt${earlier - seenRetries === 1 ? '' : 's'} ended abnormally and ${earlier - seenRetries === 1 ? 'was' : 'were'} retried`,
    });
  }
  if (job.startedAt) {
    const run = lastRunOf(job);
    const attempt = job.state === 'running' ? job.attempts.made + 1 : (run?.attempt ?? job.attempts.made);
    const where = job.node ?? run?.node;
    steps.push({
      key: 'started',
      at: job.startedAt,
      what: `started, attempt ${attempt} of ${job.attempts.max}${where ? ` on node ${where}` : ''}`,
      detail: job.pid ?? run?.pid,
    });
  }
  if (job.progress !== undefined && job.progress !== null && job.progress !== 0) {
    steps.push({ key: 'progress', at: undefined, what: 'progress', detail: JSON.stringify(job.progress) });
  }
  if (queued(job.state) && job.startedAt && !steps.some((s) => s.key === `retry-${job.attempts.made}`)) {
    steps.push({
      key: 'retrying',
      at: undefined,
      what: `attempt ${job.attempts.made} ended: ${job.exit?.reason ?? 'abnormally'}; ${job.state}, to be retried`,
      detail: job.exit?.message,
      tone: 'bad',
    });
  }
  if (ended(job.state)) {
    steps.push({
      key: 'ended',
      at: job.finishedAt,
      what: job.exit ? `${job.state}: ${job.exit.reason}` : job.state,
      detail: job.exit?.message,
      tone: job.state === 'completed' ? 'good' : 'bad',
    });
  }
  return steps;
}

function ended(state: string): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export function Timeline({ job, observed }: { job: Job; observed: readonly Observed[] }) {
  return (
    <ol class="timeline" aria-label="Timeline">
      {timelineOf(job, observed).map((step) => (
        <li key={step.key} class={step.tone ?? ''} data-step={step.key}>
          <time>{step.at ? when(step.at) : '—'}</time> <strong>{step.what}</strong>
          {step.detail && <span class="muted mono"> {step.detail}</span>}
        </li>
      ))}
    </ol>
  );
}
