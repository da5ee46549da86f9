import type { SupervisionEntry } from '../contract/processes.js';
import type { ConsoleProcess } from './cluster-feed.js';

/** A node's supervision tree, as one audience may see it. */
export interface NodeTree {
  readonly node: string;
  readonly tree: SupervisionEntry;
}

/**
 * The part of a supervision tree a tenant may see: its own job processes and the supervisors
 * above them (named, without their pids); none of the node's other components, none of another
 * tenant's jobs, and no count that would tell how many those are.
 */
export function treeForTenant(entry: SupervisionEntry, tenant: string): SupervisionEntry | undefined {
  if (entry.kind === 'worker') return entry.jobId !== undefined && entry.tenant === tenant ? entry : undefined;
  const children = (entry.children ?? []).flatMap((child) => treeForTenant(child, tenant) ?? []);
  if (children.length === 0) return undefined;
  return {
    kind: 'supervisor',
    ...(entry.name === undefined ? {} : { name: entry.name }),
    ...(entry.strategy === undefined ? {} : { strategy: entry.strategy }),
    children,
  };
}

export function treesForTenant(trees: readonly NodeTree[], tenant: string): NodeTree[] {
  return trees.flatMap(({ node, tree }) => {
    const visible = treeForTenant(tree, tenant);
    return visible ? [{ node, tree: visible }] : [];
  });
}

/**
 * A tenant's own processes, each with only the links and monitors that name its own processes:
 * the rest (the platform's processes, another tenant's) are counted in `linksHidden` and
 * `monitorsHidden`, never named.
 */
export function processesForTenant(processes: readonly ConsoleProcess[], tenant: string): ConsoleProcess[] {
  const own = processes.filter((p) => p.tenant === tenant);
  const ownPids = new Set(own.map((p) => p.pid));
  return own.map((process) => {
    const { links, monitors, linksMore, monitorsMore, ...fields } = process;
    if (links === undefined && monitors === undefined) return process;
    const visibleLinks = (links ?? []).filter((pid) => ownPids.has(pid));
    const visibleMonitors = (monitors ?? []).filter((pid) => ownPids.has(pid));
    return {
      ...fields,
      links: visibleLinks,
      monitors: visibleMonitors,
      linksHidden: (links?.length ?? 0) - visibleLinks.length + (linksMore ?? 0),
      monitorsHidden: (monitors?.length ?? 0) - visibleMonitors.length + (monitorsMore ?? 0),
    };
  });
}
