import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { followEvents } from '../event-stream.js';
import { json, when } from '../format.js';
import { scheduleHref } from '../route.js';
import { ENDED_STATES, type Job } from '../types.js';
import { Notice, useAction } from './action.js';
import { PausedBadge, PausedFunctionNote, useFunctionPaused } from './function-paused.js';
import { JobChildrenTable, ParentFact } from './job-children.js';
import { type Observed, Timeline } from './timeline.js';

interface Logs {
  readonly logs: string[];
  readonly total: number;
}

/** One job: input, result or exit, logs, progress, attempts and timeline, followed live until it ends. */
export function JobView({ api, id, admin }: { api: Api; id: string; admin: boolean }) {
  const [job, setJob] = useState<Job | undefined>();
  const [observed, setObserved] = useState<Observed[]>([]);
  const [logs, setLogs] = useState<string[]>([]);
  const [missing, setMissing] = useState(false);
  const [generation, setGeneration] = useState(0);
  const { run, notice } = useAction();
  const functionPaused = useFunctionPaused(api, job?.id === id ? job : undefined);

  useEffect(() => {
    setMissing(false);
    setObserved([]);
    // Another job's page (a child's, its parent's): not the last one's facts meanwhile.
    setJob((shown) => (shown?.id === id ? shown : undefined));
    setLogs([]);
    let current = true;
    api.get<Logs>(`/v1/jobs/${id}/logs?limit=1000`).then(
      (page) => current && setLogs(page.logs),
      () => undefined,
    );
    const stop = followEvents({
      url: `/v1/jobs/${id}/events`,
      headers: api.headers,
      once: true,
      onRefused: (status) => status === 404 && setMissing(true),
      onEvent: ({ event, data }) => {
        const body = JSON.parse(data) as { line?: string; progress?: unknown } & Partial<Job>;
        if (event === 'state' || event === 'end') {
          setJob(body as Job);
          setObserved((seen) => [...seen, { at: new Date().toISOString(), job: body as Job }]);
        }
        if (event === 'progress') setJob((j) => (j ? { ...j, progress: body.progress } : j));
        if (event === 'log' && body.line !== undefined) setLogs((l) => [...l, body.line as string]);
      },
    });
    return () => {
      current = false;
      stop();
    };
  }, [api, id, generation]);

  if (missing) {
    return (
      <p role="alert">
        No job {id} of yours.{' '}
        {admin && "Jobs belong to their tenant: open the console with that tenant's key to see its jobs."}
      </p>
    );
  }
  if (!job) return <p>Loading job {id}…</p>;
  const cancel = () =>
    run(async () => {
      const outcome = await api.call<{ outcome: string }>('DELETE', `/v1/jobs/${id}`);
      return `Cancel: ${outcome.outcome}.`;
    });
  const retry = () =>
    run(async () => {
      await api.call('POST', `/v1/jobs/${id}/retry`);
      setGeneration((g) => g + 1);
      return 'Queued again.';
    });
  const ended = ENDED_STATES.includes(job.state);
  return (
    <article class="job" aria-labelledby="job-title">
      <h2 id="job-title">
        Job {job.id} · {job.function}@{job.version} {functionPaused && <PausedBadge testId="function-paused" />}{' '}
        <span class={`state ${job.state}`} data-testid="job-state">
          {job.state}
        </span>
      </h2>
      <div class="toolbar">
        <button type="button" class="danger" disabled={ended} onClick={() => void cancel()}>
          Cancel job
        </button>
        {/* POST /v1/jobs/{id}/retry and the dead letters' requeue are one operation in the API: one button. */}
        <button
          type="button"
          disabled={!['failed', 'cancelled'].includes(job.state)}
          title="Queues the job again with fresh attempts; the same as Requeue in Dead letters."
          onClick={() => void retry()}
        >
          Retry (requeue) job
        </button>
        <a href="#/jobs">All jobs</a>
      </div>
      {functionPaused && <PausedFunctionNote name={job.function} />}
      <Notice notice={notice} />
      <dl class="facts">
        <dt>priority</dt>
        <dd>{job.priority}</dd>
        <dt>attempts</dt>
        <dd>
          {job.attempts.made} of {job.attempts.max}
        </dd>
        <dt>process</dt>
        <dd class="mono">{job.pid ? `${job.pid} on ${job.node}` : '—'}</dd>
        <dt>progress</dt>
        <dd class="mono">{job.progress === undefined || job.progress === null ? '—' : JSON.stringify(job.progress)}</dd>
        <dt>submitted</dt>
        <dd>{when(job.submittedAt)}</dd>
        <dt>started</dt>
        <dd>{when(job.startedAt)}</dd>
        <dt>finished</dt>
        <dd>{when(job.finishedAt)}</dd>
        {job.schedule && (
          <>
            <dt>schedule</dt>
            <dd>
              <a href={scheduleHref(job.schedule)} data-testid="job-schedule">
                {job.schedule}
              </a>
            </dd>
          </>
        )}
        {job.parent && <ParentFact parent={job.parent} />}
      </dl>
      {(!ended || (job.children?.total ?? 0) > 0) && <JobChildrenTable key={job.id} api={api} job={job} />}
      <h3>Timeline</h3>
      <Timeline job={job} observed={observed} />
      <h3>Input</h3>
      <pre>{json(job.input)}</pre>
      {job.state === 'completed' && (
        <>
          <h3>Result</h3>
          <pre>{json(job.result)}</pre>
        </>
      )}
      {job.exit && (
        <>
          <h3>Exit</h3>
          <dl class="facts" data-testid="job-exit">
            <dt>reason</dt>
            <dd data-testid="exit-reason">{job.exit.reason}</dd>
            <dt>message</dt>
            <dd>{job.exit.message}</dd>
            {job.exit.fault && (
              <>
                <dt>fault</dt>
                <dd>{job.exit.fault}</dd>
              </>
            )}
          </dl>
          {job.exit.stack && <pre>{job.exit.stack}</pre>}
        </>
      )}
      <h3>Logs ({logs.length})</h3>
      <pre class="logs">{logs.length > 0 ? logs.join('\n') : 'No lines.'}</pre>
    </article>
  );
}
