import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { json, when } from '../format.js';
import { jobHref, scheduleHref } from '../route.js';
import type { Schedule, ScheduleDetail } from '../types.js';
import { Notice, useAction } from './action.js';

/** How often an open schedule page reads the schedule again: runs every second show as they come. */
const REFRESH_MS = 2000;

/** "every 1 s", "every 5 min", or the cron expression. */
export function cadence(schedule: Schedule): string {
  if (schedule.cron) return schedule.cron;
  const ms = schedule.everyMs ?? 0;
  if (ms % 3_600_000 === 0) return `every ${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `every ${ms / 60_000} min`;
  return ms % 1000 === 0 ? `every ${ms / 1000} s` : `every ${ms} ms`;
}

const zoneOf = (schedule: Schedule) => (schedule.cron ? (schedule.timezone ?? 'UTC') : '—');

function PausedBadge({ paused }: { paused: boolean }) {
  return (
    <span class={`state ${paused ? 'cancelled' : 'running'}`} data-testid="schedule-state">
      {paused ? 'paused' : 'active'}
    </span>
  );
}

/** Your schedules, oldest first: what each runs, when, and when next. */
export function SchedulesView({ api, deleted }: { api: Api; deleted?: string | null }) {
  const [schedules, setSchedules] = useState<readonly Schedule[] | undefined>();
  const [refreshes, setRefreshes] = useState(0);
  const { run, notice } = useAction();
  useEffect(() => {
    let current = true;
    void run(async () => {
      const list = await api.get<{ schedules: Schedule[] }>('/v1/schedules');
      if (current) setSchedules(list.schedules);
      return '';
    });
    return () => {
      current = false;
    };
  }, [api, refreshes]);
  return (
    <div>
      <div class="toolbar">
        <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <Notice
        notice={
          notice?.kind === 'error' ? notice : deleted ? { kind: 'ok', text: `Schedule ${deleted} deleted.` } : undefined
        }
      />
      {!schedules ? (
        <p>Loading…</p>
      ) : schedules.length === 0 ? (
        <p class="muted">No schedules. Create one with POST /v1/schedules or `beamline schedules create`.</p>
      ) : (
        <table aria-label="Schedules">
          <thead>
            <tr>
              <th>id</th>
              <th>function</th>
              <th>when</th>
              <th>timezone</th>
              <th>state</th>
              <th>next run</th>
            </tr>
          </thead>
          <tbody>
            {schedules.map((s) => (
              <tr key={s.id} data-schedule={s.id}>
                <td>
                  <a href={scheduleHref(s.id)}>{s.id}</a>
                </td>
                <td>{s.function}</td>
                <td class="mono">{cadence(s)}</td>
                <td>{zoneOf(s)}</td>
                <td>
                  <PausedBadge paused={s.paused} />
                </td>
                <td>{s.nextRunAt ? when(s.nextRunAt) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The fields the page shows on their own; the rest of a schedule are its job's options (priority, attempts, limits…). */
const SHOWN = 'id function input cron everyMs timezone paused createdAt updatedAt nextRunAt nextRuns lastRuns'.split(
  ' ',
);

const jobOptions = (schedule: ScheduleDetail): Record<string, unknown> =>
  Object.fromEntries(Object.entries(schedule).filter(([key]) => !SHOWN.includes(key)));

/** Asks before deleting: the schedule and its next run go for good. */
function ConfirmDelete({ id, onConfirm, onKeep }: { id: string; onConfirm: () => void; onKeep: () => void }) {
  const confirm = useRef<HTMLButtonElement>(null);
  // The question opens from the Delete button: the keyboard goes on to its answer.
  useEffect(() => confirm.current?.focus(), []);
  return (
    <div
      class="inline-form"
      role="alertdialog"
      aria-labelledby="confirm-delete"
      onKeyDown={(event) => event.key === 'Escape' && onKeep()}
    >
      <p id="confirm-delete">
        Delete schedule {id}? Its next run, if not started, goes with it; runs already started stay jobs of yours.
      </p>
      <button ref={confirm} type="button" class="danger" onClick={onConfirm}>
        Yes, delete {id}
      </button>
      <button type="button" onClick={onKeep}>
        Keep it
      </button>
    </div>
  );
}

/** One schedule: its definition, next due times and last runs (each a link to its job), with Pause, Resume and Delete. */
export function ScheduleView({ api, id }: { api: Api; id: string }) {
  const [schedule, setSchedule] = useState<ScheduleDetail | undefined>();
  const [missing, setMissing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const { run, notice } = useAction();
  // Moves as Pause or Resume starts and ends: a read begun before one ends may predate it, so it is dropped.
  const actions = useRef(0);
  const path = `/v1/schedules/${encodeURIComponent(id)}`;

  useEffect(() => {
    setMissing(false);
    setSchedule(undefined);
    let current = true;
    const read = (began = actions.current) =>
      api.get<ScheduleDetail>(path).then(
        (detail) => current && began === actions.current && setSchedule(detail),
        (error: { status?: number }) => current && error.status === 404 && setMissing(true),
      );
    void read();
    const timer = setInterval(() => void read(), REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [api, path]);

  if (missing) return <p role="alert">No schedule {id} of yours.</p>;
  if (!schedule) return <p>Loading schedule {id}…</p>;
  const act = (verb: 'pause' | 'resume', done: string) =>
    run(async () => {
      actions.current++;
      const changed = await api.call<ScheduleDetail>('POST', `${path}/${verb}`);
      actions.current++;
      setSchedule(changed);
      return done;
    });
  const remove = () =>
    run(async () => {
      await api.call('DELETE', path);
      location.hash = `#/schedules?deleted=${encodeURIComponent(id)}`;
      return '';
    });
  const options = jobOptions(schedule);
  return (
    <article aria-labelledby="schedule-title">
      <h2 id="schedule-title">
        Schedule {schedule.id} <PausedBadge paused={schedule.paused} />
      </h2>
      <div class="toolbar">
        {schedule.paused ? (
          <button type="button" onClick={() => void act('resume', 'Resumed.')}>
            Resume schedule
          </button>
        ) : (
          <button type="button" onClick={() => void act('pause', 'Paused.')}>
            Pause schedule
          </button>
        )}
        <button ref={deleteButton} type="button" class="danger" onClick={() => setConfirming(true)}>
          Delete schedule
        </button>
        <a href="#/schedules">All schedules</a>
      </div>
      {confirming && (
        <ConfirmDelete
          id={schedule.id}
          onConfirm={() => {
            setConfirming(false);
            void remove();
          }}
          onKeep={() => {
            setConfirming(false);
            deleteButton.current?.focus();
          }}
        />
      )}
      <Notice notice={notice} />
      <dl class="facts">
        <dt>function</dt>
        <dd>
          <a href={`#/jobs?function=${encodeURIComponent(schedule.function.split('@')[0] ?? '')}`}>
            {schedule.function}
          </a>
        </dd>
        <dt>{schedule.cron ? 'cron' : 'every'}</dt>
        <dd class="mono">{schedule.cron ?? cadence(schedule).replace('every ', '')}</dd>
        <dt>timezone</dt>
        <dd>{zoneOf(schedule)}</dd>
        <dt>created</dt>
        <dd>{when(schedule.createdAt)}</dd>
        <dt>updated</dt>
        <dd>{when(schedule.updatedAt)}</dd>
      </dl>
      <h3>Input</h3>
      <pre>{json(schedule.input)}</pre>
      {Object.keys(options).length > 0 && (
        <>
          <h3>Job options</h3>
          <pre>{json(options)}</pre>
        </>
      )}
      <section aria-labelledby="next-runs">
        <h3 id="next-runs">Next runs</h3>
        {schedule.nextRuns.length === 0 ? (
          <p class="muted">None while paused.</p>
        ) : (
          <ol class="timeline" data-testid="next-runs">
            {schedule.nextRuns.map((at) => (
              <li key={at}>
                <time dateTime={at}>{when(at)}</time>
              </li>
            ))}
          </ol>
        )}
      </section>
      <section aria-labelledby="last-runs">
        <h3 id="last-runs">Last runs</h3>
        {schedule.lastRuns.length === 0 ? (
          <p class="muted">No runs yet.</p>
        ) : (
          <table aria-labelledby="last-runs">
            <thead>
              <tr>
                <th>due</th>
                <th>job</th>
                <th>state</th>
              </tr>
            </thead>
            <tbody>
              {schedule.lastRuns.map((r) => (
                <tr key={r.jobId} data-job={r.jobId}>
                  <td>{when(r.dueAt)}</td>
                  <td class="mono">{r.state === null ? r.jobId : <a href={jobHref(r.jobId)}>{r.jobId}</a>}</td>
                  <td>
                    {r.state ? (
                      <span class={`state ${r.state}`}>{r.state}</span>
                    ) : (
                      <span class="muted" title="Removed by a pause or delete before it started, or expired">
                        no longer kept
                      </span>
                    )}{' '}
                    {r.skipped && (
                      <span class="badge" title="Your backlog was full when it was produced: it ends cancelled.">
                        skipped
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </article>
  );
}
