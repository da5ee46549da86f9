import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { readPaused } from '../functions-api.js';
import type { Job } from '../types.js';

export function PausedBadge({ testId }: { testId?: string }) {
  return (
    <span
      class="state paused"
      data-testid={testId}
      title="Paused: its jobs are accepted and wait; none starts until it is resumed."
    >
      paused
    </span>
  );
}

/**
 * A job that has not started: waiting, delayed, or taken by a node that has not started its
 * process yet (a job of a paused function shows so for a moment each time a node puts it back).
 */
const notStarted = (job: Job): boolean =>
  job.state === 'waiting' || job.state === 'delayed' || (job.state === 'running' && job.pid === undefined);

/**
 * Whether the function of a job that has not started is paused: the job view does not say, so it is
 * read from GET /v1/functions/{name} each time the job's state moves while it waits (a job of a
 * paused function is taken and put back, delayed, every 1–2 s). Undefined once the job started, or unknown.
 */
export function useFunctionPaused(api: Api, job: Job | undefined): boolean | undefined {
  const [paused, setPaused] = useState<{ name: string; paused: boolean } | undefined>();
  const waiting = job !== undefined && notStarted(job);
  const name = job?.function;
  useEffect(() => {
    if (!waiting || name === undefined) return;
    let current = true;
    readPaused(api, name).then(
      (answer) => current && setPaused({ name, paused: answer }),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [api, name, waiting, job?.state]);
  return waiting && paused !== undefined && paused.name === name ? paused.paused : undefined;
}

/** Under a waiting job's title: why it waits, when its function is paused. */
export function PausedFunctionNote({ name }: { name: string }) {
  return (
    <p class="notice" data-testid="paused-note">
      Function {name} is paused: this job waits, and starts once the function is resumed (
      <a href="#/functions">Functions</a>).
    </p>
  );
}
