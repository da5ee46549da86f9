import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api } from './api.js';
import type { StreamEvent, StreamState } from './event-stream.js';
import { NodeHistory } from './node-history.js';
import { parseRoute, type Route, type View } from './route.js';
import { followShared } from './shared-stream.js';
import type { History, Snapshot, Viewer } from './types.js';
import { DeadLettersView } from './views/dead-letters.js';
import { FunctionsView } from './views/functions.js';
import { JobView } from './views/job.js';
import { JobsView } from './views/jobs.js';
import { Login } from './views/login.js';
import { NodesView } from './views/nodes.js';
import { ProcessView } from './views/process.js';
import { ProcessesView } from './views/processes.js';
import { SchedulesView, ScheduleView } from './views/schedules.js';
import { SupervisionView } from './views/supervision.js';

const KEY_STORAGE = 'beamline.apiKey';
const FIRST_SNAPSHOT_MARK = 'console:first-snapshot';

const TABS: ReadonlyArray<{ view: View; label: string; adminOnly?: boolean }> = [
  { view: 'nodes', label: 'Nodes', adminOnly: true },
  { view: 'supervision', label: 'Supervision' },
  { view: 'processes', label: 'Processes' },
  { view: 'jobs', label: 'Jobs' },
  { view: 'schedules', label: 'Schedules' },
  { view: 'functions', label: 'Functions' },
  { view: 'dead-letters', label: 'Dead letters' },
];

function useHashRoute(fallback: View): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return parseRoute(hash, fallback);
}

/**
 * The cluster as the key may see it, live from /v1/console/stream: one connection for all of this
 * browser's tabs with this key (the key names the shared stream: tabs with another key, another
 * tenant's, never share it; the name stays within this origin, as the key in sessionStorage does).
 */
function useConsoleStream(api: Api) {
  const [viewer, setViewer] = useState<Viewer | undefined>();
  const [snapshot, setSnapshot] = useState<Snapshot | undefined>();
  const [state, setState] = useState<StreamState>('connecting');
  const [leading, setLeading] = useState(false);
  const history = useRef(new NodeHistory()).current;
  useEffect(() => {
    let hello: string | undefined;
    let latest: string | undefined;
    let charted = false;
    return followShared({
      url: '/v1/console/stream',
      shareAs: `beamline-console-stream:${api.key}`,
      headers: api.headers,
      onState: setState,
      onLead: () => setLeading(true),
      onRefused: (status) => status === 401 && api.onUnauthorized(),
      replay: () => {
        const events: StreamEvent[] = [];
        if (hello) events.push({ event: 'hello', data: hello });
        if (charted) events.push({ event: 'history', data: JSON.stringify(history.toHistory()) });
        if (latest) events.push({ event: 'snapshot', data: latest });
        return events;
      },
      onEvent: ({ event, data }) => {
        if (event === 'hello') {
          hello = data;
          setViewer(JSON.parse(data) as Viewer);
        }
        if (event === 'history') {
          charted = true;
          history.reset(JSON.parse(data) as History);
        }
        if (event === 'snapshot') {
          latest = data;
          const next = JSON.parse(data) as Snapshot;
          if (next.nodes) history.add(next.nodes);
          setSnapshot(next);
        }
      },
    });
  }, [api, history]);
  return { viewer, snapshot, state, history, leading };
}

function StatusBadge({ state, redis, leading }: { state: StreamState; redis: boolean | undefined; leading: boolean }) {
  const text =
    state !== 'live'
      ? state === 'connecting'
        ? 'Connecting…'
        : 'Reconnecting to the API…'
      : redis === false
        ? 'Redis unreachable: last known state'
        : 'Live';
  return (
    <span
      class={`status ${text === 'Live' ? 'live' : 'stale'}`}
      role="status"
      data-testid="stream-status"
      data-leading={leading}
      title={leading ? "This tab holds the stream for this browser's other tabs" : 'Shares the stream of another tab'}
    >
      {text}
    </span>
  );
}

function Shell({ api, signOut }: { api: Api; signOut: () => void }) {
  const { viewer, snapshot, state, history, leading } = useConsoleStream(api);
  const admin = viewer?.admin ?? false;
  const route = useHashRoute(admin ? 'nodes' : 'processes');
  const runningJobs = (snapshot?.processes ?? []).map((p) => p.jobId ?? '').join(',');
  const view = route.view === 'nodes' && viewer && !admin ? 'processes' : route.view;
  const current = view === 'job' ? 'jobs' : view === 'process' ? 'processes' : view === 'schedule' ? 'schedules' : view;
  useEffect(() => {
    // The first meaningful paint: the first cluster state on screen (measured in docs/console.md).
    if (snapshot && performance.getEntriesByName(FIRST_SNAPSHOT_MARK).length === 0)
      performance.mark(FIRST_SNAPSHOT_MARK);
  }, [snapshot]);
  useEffect(() => {
    const pages: Partial<Record<View, string>> = { job: 'Job', process: 'Process', schedule: 'Schedule' };
    const title = pages[view] ? `${pages[view]} ${route.id}` : undefined;
    document.title = `${title ?? TABS.find((t) => t.view === current)?.label ?? ''} · Beamline console`;
  }, [current, view, route.id]);
  return (
    <>
      <header>
        <h1>Beamline</h1>
        <nav aria-label="Views">
          {TABS.filter((t) => admin || !t.adminOnly).map((tab) => (
            <a key={tab.view} href={`#/${tab.view}`} aria-current={current === tab.view ? 'page' : undefined}>
              {tab.label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <StatusBadge state={state} redis={snapshot?.redis} leading={leading} />
        <span class="muted">{viewer ? (admin ? 'admin' : `tenant ${viewer.tenant}`) : ''}</span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {view === 'nodes' && <NodesView nodes={snapshot?.nodes} history={history} />}
        {view === 'supervision' && <SupervisionView trees={snapshot?.supervision} admin={admin} />}
        {view === 'processes' && <ProcessesView api={api} processes={snapshot?.processes} admin={admin} />}
        {view === 'process' && route.id && (
          <ProcessView
            api={api}
            pid={route.id}
            processes={snapshot?.processes}
            trees={snapshot?.supervision}
            admin={admin}
          />
        )}
        {view === 'jobs' && (
          <JobsView api={api} runningJobs={runningJobs} initialFunction={route.query.get('function') ?? ''} />
        )}
        {view === 'job' && route.id && <JobView api={api} id={route.id} admin={admin} />}
        {view === 'schedules' && <SchedulesView api={api} deleted={route.query.get('deleted')} />}
        {view === 'schedule' && route.id && <ScheduleView api={api} id={route.id} />}
        {view === 'functions' && <FunctionsView api={api} />}
        {view === 'dead-letters' && <DeadLettersView api={api} />}
      </main>
    </>
  );
}

export function App() {
  const [key, setKey] = useState(() => sessionStorage.getItem(KEY_STORAGE) ?? undefined);
  const [reason, setReason] = useState<string | undefined>();
  const signOut = (why?: string) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setReason(why);
    setKey(undefined);
  };
  const api = useMemo(
    () => (key ? new Api(key, () => signOut('The API no longer accepts this key.')) : undefined),
    [key],
  );
  if (!api) {
    return (
      <Login
        reason={reason}
        onKey={(k) => {
          sessionStorage.setItem(KEY_STORAGE, k);
          setKey(k);
        }}
      />
    );
  }
  return <Shell api={api} signOut={() => signOut()} />;
}
