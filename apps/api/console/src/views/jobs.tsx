import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { when } from '../format.js';
import { JOB_STATES, type Job } from '../types.js';
import { Notice, useAction } from './action.js';

interface JobPage {
  readonly jobs: Job[];
  readonly nextCursor: string | null;
}

/** Your jobs, newest first, filtered by state and function; refreshed whenever the set of running jobs changes. */
export function JobsView({
  api,
  runningJobs,
  initialFunction = '',
}: {
  api: Api;
  runningJobs: string;
  initialFunction?: string;
}) {
  const [state, setState] = useState('');
  const [fn, setFn] = useState(initialFunction);
  const [cursor, setCursor] = useState<string | undefined>();
  const [page, setPage] = useState<JobPage | undefined>();
  const [refreshes, setRefreshes] = useState(0);
  const { run, notice } = useAction();

  useEffect(() => {
    const query = new URLSearchParams({ limit: '50' });
    if (state) query.set('state', state);
    if (fn.trim()) query.set('function', fn.trim());
    if (cursor) query.set('cursor', cursor);
    let current = true;
    void run(async () => {
      const next = await api.get<JobPage>(`/v1/jobs?${query}`);
      if (current) setPage(next);
      return '';
    });
    return () => {
      current = false;
    };
  }, [api, state, fn, cursor, runningJobs, refreshes]);

  return (
    <div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select
            value={state}
            onChange={(e) => {
              setState(e.currentTarget.value);
              setCursor(undefined);
            }}
          >
            <option value="">any</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Function
          <input
            type="search"
            value={fn}
            onChange={(e) => {
              setFn(e.currentTarget.value);
              setCursor(undefined);
            }}
          />
        </label>
        <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
          Refresh
        </button>
      </form>
      <Notice notice={notice?.kind === 'error' ? notice : undefined} />
      <JobTable jobs={page?.jobs} />
      <div class="toolbar">
        {cursor && (
          <button type="button" onClick={() => setCursor(undefined)}>
            First page
          </button>
        )}
        {page?.nextCursor && (
          <button type="button" onClick={() => setCursor(page.nextCursor ?? undefined)}>
            Next page
          </button>
        )}
      </div>
    </div>
  );
}

export function JobTable({ jobs, actions }: { jobs: readonly Job[] | undefined; actions?: (job: Job) => unknown }) {
  if (!jobs) return <p>Loading…</p>;
  if (jobs.length === 0) return <p class="muted">No jobs.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>id</th>
          <th>function</th>
          <th>state</th>
          <th>priority</th>
          <th>attempts</th>
          <th>exit</th>
          <th>submitted</th>
          <th>finished</th>
          {actions && <th>actions</th>}
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id}>
            <td>
              <a href={`#/jobs/${job.id}`}>{job.id}</a>
            </td>
            <td>
              {job.function}@{job.version}
            </td>
            <td>
              <span class={`state ${job.state}`}>{job.state}</span>
            </td>
            <td>{job.priority}</td>
            <td class="number">
              {job.attempts.made}/{job.attempts.max}
            </td>
            <td>{job.exit ? `${job.exit.reason}: ${job.exit.message}` : ''}</td>
            <td>{when(job.submittedAt)}</td>
            <td>{when(job.finishedAt)}</td>
            {actions && <td class="actions">{actions(job) as never}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
