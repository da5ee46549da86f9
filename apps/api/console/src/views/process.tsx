import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { age, bytes, cpuTime } from '../format.js';
import { processHref } from '../route.js';
import type { ConsoleProcess, NodeTree, SupervisionEntry } from '../types.js';
import { Notice, useAction } from './action.js';
import { MessageForm } from './processes.js';

function Related({
  label,
  pids,
  more,
  hidden,
}: {
  label: string;
  pids: readonly string[] | undefined;
  more: number | undefined;
  hidden: number | undefined;
}) {
  const list = pids ?? [];
  return (
    <section aria-label={label}>
      <h3>
        {label} ({list.length + (more ?? 0) + (hidden ?? 0)})
      </h3>
      <ul class="pids">
        {list.map((pid) => (
          <li key={pid}>
            <a class="mono" href={processHref(pid)}>
              {pid}
            </a>
          </li>
        ))}
        {more ? <li class="muted">… and {more} more</li> : null}
        {hidden ? (
          <li class="muted" data-testid={`${label.toLowerCase()}-hidden`}>
            {hidden} {hidden === 1 ? 'process' : 'processes'} not yours (the platform's or another tenant's)
          </li>
        ) : null}
        {list.length === 0 && !more && !hidden && <li class="muted">none</li>}
      </ul>
    </section>
  );
}

/** The entry of `pid` in the nodes' supervision trees, and its node. */
function findInTrees(trees: readonly NodeTree[], pid: string): { node: string; entry: SupervisionEntry } | undefined {
  const search = (entry: SupervisionEntry): SupervisionEntry | undefined =>
    entry.pid === pid
      ? entry
      : (entry.children ?? []).reduce<SupervisionEntry | undefined>(
          (found, child) => found ?? search(child),
          undefined,
        );
  for (const { node, tree } of trees) {
    const entry = search(tree);
    if (entry) return { node, entry };
  }
  return undefined;
}

/** A process of a node's own (a supervisor, a component), as its supervision tree shows it. */
function PlatformProcess({ pid, node, entry }: { pid: string; node: string; entry: SupervisionEntry }) {
  return (
    <article aria-labelledby="process-title">
      <h2 id="process-title">
        Process <span class="mono">{pid}</span>
      </h2>
      <p class="muted">One of the node's own processes (no job runs in it).</p>
      <dl class="facts">
        <dt>node</dt>
        <dd class="mono">{node}</dd>
        <dt>kind</dt>
        <dd>{entry.kind}</dd>
        {entry.name && (
          <>
            <dt>registered name</dt>
            <dd>{entry.name}</dd>
          </>
        )}
        {entry.strategy && (
          <>
            <dt>strategy</dt>
            <dd>{entry.strategy}</dd>
          </>
        )}
        {entry.children && (
          <>
            <dt>children</dt>
            <dd>{entry.children.length + (entry.more ?? 0)}</dd>
          </>
        )}
      </dl>
      <a href="#/supervision">Supervision</a>
    </article>
  );
}

/** One live process: its fields, its links and monitors, Kill and Message. */
export function ProcessView({
  api,
  pid,
  processes,
  trees,
  admin,
}: {
  api: Api;
  pid: string;
  processes: readonly ConsoleProcess[] | undefined;
  trees: readonly NodeTree[] | undefined;
  admin: boolean;
}) {
  const [messaging, setMessaging] = useState(false);
  const { run, notice } = useAction();
  if (!processes) return <p>Waiting for the cluster…</p>;
  const process = processes.find((p) => p.pid === pid);
  const platform = process ? undefined : findInTrees(trees ?? [], pid);
  if (platform && !platform.entry.jobId) return <PlatformProcess pid={pid} {...platform} />;
  if (!process) {
    return (
      <article aria-labelledby="process-title">
        <h2 id="process-title" class="mono">
          Process {pid}
        </h2>
        <p role="status">
          No live job process {admin ? '' : 'of yours '}has this pid: it has ended, or it is one of a node's own
          processes
          {admin ? ' (see Supervision)' : ''}.
        </p>
        <a href="#/processes">All processes</a>
      </article>
    );
  }
  const kill = () =>
    run(async () => {
      await api.call('DELETE', `/v1/processes/${pid}`);
      return `Kill sent to ${pid}.`;
    });
  return (
    <article aria-labelledby="process-title">
      <h2 id="process-title">
        Process <span class="mono">{pid}</span>{' '}
        <span class="state" data-testid="process-status">
          {process.status ?? '—'}
        </span>
      </h2>
      <div class="toolbar">
        <button type="button" aria-label={`Message ${pid}`} onClick={() => setMessaging(true)}>
          Message
        </button>
        <button type="button" class="danger" aria-label={`Kill ${pid}`} onClick={() => void kill()}>
          Kill
        </button>
        <a href="#/processes">All processes</a>
      </div>
      <Notice notice={notice} />
      {messaging && <MessageForm api={api} pid={pid} onDone={() => setMessaging(false)} />}
      <dl class="facts">
        <dt>node</dt>
        <dd class="mono">{process.node}</dd>
        <dt>function</dt>
        <dd>{process.function ?? '—'}</dd>
        {admin && (
          <>
            <dt>tenant</dt>
            <dd>{process.tenant ?? '—'}</dd>
          </>
        )}
        <dt>job</dt>
        <dd>{process.jobId ? <a href={`#/jobs/${process.jobId}`}>{process.jobId}</a> : '—'}</dd>
        <dt>priority</dt>
        <dd>{process.priority ?? '—'}</dd>
        <dt>CPU time</dt>
        <dd data-testid="process-cpu">{cpuTime(process.cpuTimeNs)}</dd>
        <dt>memory</dt>
        <dd>{bytes(process.memory)}</dd>
        <dt>mailbox</dt>
        <dd data-testid="process-mailbox">{process.messageQueueLength ?? 0}</dd>
        <dt>age</dt>
        <dd>{age(process.firstSeenAt)}</dd>
      </dl>
      <div class="relations">
        <Related label="Links" pids={process.links} more={process.linksMore} hidden={process.linksHidden} />
        <Related label="Monitors" pids={process.monitors} more={process.monitorsMore} hidden={process.monitorsHidden} />
      </div>
    </article>
  );
}
