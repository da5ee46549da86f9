import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { jobHref } from '../route.js';
import { ENDED_STATES, type Job, type JobChildren } from '../types.js';

const PAGE = 20;
/** How often the page reads its children again while any of them (or the parent, which may start more) goes on. */
const REFRESH_MS = 1500;

const RELATIONS: Record<string, string> = {
  link: 'linked: its failure kills the parent; the parent failing or cancelled cancels it',
  monitor: 'monitored: its end is a DOWN message to the parent',
  none: 'neither linked nor monitored',
};

/** The job that started this one, and how the two are tied. */
export function ParentFact({ parent }: { parent: NonNullable<Job['parent']> }) {
  return (
    <>
      <dt>parent</dt>
      <dd>
        <a href={jobHref(parent.id)} data-testid="job-parent">
          {parent.id}
        </a>{' '}
        <span class="badge" title={RELATIONS[parent.relation]} data-testid="job-relation">
          {parent.relation}
        </span>
      </dd>
    </>
  );
}

/** The jobs this job started (ctx.startJob), by pages, read again while the tree is still moving (rendered once there is one). */
export function JobChildrenTable({ api, job }: { api: Api; job: Job }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<JobChildren | undefined>();
  const [error, setError] = useState<string | undefined>();
  const parentEnded = ENDED_STATES.includes(job.state);
  const settled = parentEnded && (page?.jobs.every((child) => ENDED_STATES.includes(child.state)) ?? false);

  useEffect(() => {
    let current = true;
    const read = () =>
      api.get<JobChildren>(`/v1/jobs/${job.id}/children?offset=${offset}&limit=${PAGE}`).then(
        (next) => {
          if (!current) return;
          setPage(next);
          setError(undefined);
        },
        (problem: Error) => current && setError(problem.message),
      );
    void read();
    const timer = settled ? undefined : setInterval(() => void read(), REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [api, job.id, job.state, offset, settled]);

  const total = page?.total ?? job.children?.total ?? 0;
  // A running job may start children at any time: the table shows once it has one.
  if (total === 0) return null;
  return (
    <section aria-labelledby="job-children">
      <h3 id="job-children">Children ({total})</h3>
      {error && <p role="alert">{error}</p>}
      {!page ? (
        <p>Loading…</p>
      ) : (
        <>
          <table aria-labelledby="job-children">
            <thead>
              <tr>
                <th>id</th>
                <th>function</th>
                <th>state</th>
                <th>relation</th>
              </tr>
            </thead>
            <tbody>
              {page.jobs.map((child) => (
                <tr key={child.id} data-child={child.id}>
                  <td>
                    <a href={jobHref(child.id)}>{child.id}</a>
                  </td>
                  <td>
                    {child.function}@{child.version}
                  </td>
                  <td>
                    <span class={`state ${child.state}`}>{child.state}</span>
                  </td>
                  <td title={RELATIONS[child.parent?.relation ?? 'none']}>{child.parent?.relation ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {total > PAGE && (
            <div class="toolbar">
              <span class="muted">
                {offset + 1}–{Math.min(offset + PAGE, total)} of {total}
              </span>
              <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                Previous children
              </button>
              <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
                Next children
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}
