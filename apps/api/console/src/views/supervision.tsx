import { processHref } from '../route.js';
import type { NodeTree, SupervisionEntry } from '../types.js';

function EntryLabel({ entry }: { entry: SupervisionEntry }) {
  const title = entry.name ?? entry.id ?? (entry.jobId ? `job ${entry.jobId}` : (entry.label ?? 'process'));
  return (
    <span class="entry">
      <span class={`kind ${entry.kind}`}>{entry.kind === 'supervisor' ? 'supervisor' : 'worker'}</span>{' '}
      <strong>{title}</strong>
      {entry.strategy && <span class="badge">{entry.strategy}</span>}
      {entry.pid &&
        (entry.jobId ? (
          <a class="mono" href={processHref(entry.pid)}>
            {entry.pid}
          </a>
        ) : (
          <span class="mono muted">{entry.pid}</span>
        ))}
      {entry.label && entry.label !== title && <span class="muted">{entry.label}</span>}
      {entry.jobId && <a href={`#/jobs/${entry.jobId}`}>job {entry.jobId}</a>}
      {entry.tenant && <span class="muted">tenant {entry.tenant}</span>}
      {entry.state && <span class="state">{entry.state}</span>}
    </span>
  );
}

function Entry({ entry }: { entry: SupervisionEntry }) {
  const children = entry.children ?? [];
  return (
    <li data-pid={entry.pid} data-kind={entry.kind} data-name={entry.name}>
      <EntryLabel entry={entry} />
      {(children.length > 0 || entry.more) && (
        <ul>
          {children.map((child, i) => (
            <Entry key={child.pid ?? `${child.id}-${i}`} entry={child} />
          ))}
          {entry.more ? <li class="muted">… and {entry.more} more</li> : null}
        </ul>
      )}
    </li>
  );
}

/** Each node's supervision tree, live: its root, the components, the job supervisor and the jobs under it. */
export function SupervisionView({ trees, admin }: { trees: readonly NodeTree[] | undefined; admin: boolean }) {
  if (!trees) return <p>Waiting for the cluster…</p>;
  if (trees.length === 0) {
    return (
      <p class="muted">{admin ? 'No live node has published its tree yet.' : 'No job process of yours is live.'}</p>
    );
  }
  return (
    <div>
      {!admin && (
        <p class="muted">Your job processes and the supervisors above them; the nodes' own components are not shown.</p>
      )}
      {trees.map(({ node, tree }) => (
        <section key={node} class="tree" aria-label={`Supervision tree of ${node}`}>
          <h2 class="mono">{node}</h2>
          <ul>
            <Entry entry={tree} />
          </ul>
        </section>
      ))}
    </div>
  );
}
