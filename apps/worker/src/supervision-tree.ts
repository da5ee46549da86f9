import type { Node, Pid, ProcessContext } from '@beamline/runtime';
import { SupervisorClient } from '@beamline/runtime';

/** The registered name of the node's root supervisor, where the heartbeat starts reading the tree. */
export const ROOT_SUPERVISOR = 'beamline_root';

/** Children listed per supervisor; the rest are counted in `more`. */
const MAX_CHILDREN = 1000;
/** Links and monitors listed per process; the rest are counted. */
const MAX_RELATIONS = 50;
/** A supervisor busy restarting children may not answer: the beat goes out without a tree. */
const CALL_TIMEOUT_MS = 1000;

/** One process of the supervision tree, as the heartbeat publishes it. */
export interface TreeEntry {
  /** Absent while its supervisor restarts it (`state` restarting) or after it stopped (`state` stopped). */
  readonly pid?: string;
  /** Its child id under its supervisor (none for simple_one_for_one children and the root). */
  readonly id?: string;
  readonly name?: string;
  readonly kind: 'supervisor' | 'worker';
  /** What it runs: the initial function of a green process, `function@version` of a job's. */
  readonly label?: string;
  readonly strategy?: string;
  readonly state?: 'restarting' | 'stopped';
  readonly children?: TreeEntry[];
  /** Children left out of `children`. */
  readonly more?: number;
  readonly jobId?: string;
  readonly tenant?: string;
}

/** A process's links and the processes it monitors, capped, with how many were left out. */
export interface ProcessRelations {
  readonly links: string[];
  readonly monitors: string[];
  readonly linksMore?: number;
  readonly monitorsMore?: number;
}

export type JobOf = (pid: string) => { jobId: string; tenant: string } | undefined;

function leaf(node: Node, pid: Pid, id: string | undefined, jobOf: JobOf): TreeEntry {
  const info = node.processInfo(pid);
  return {
    pid,
    ...(id === undefined ? {} : { id }),
    ...(info?.registeredName ? { name: info.registeredName } : {}),
    kind: 'worker',
    ...(info ? { label: info.initialFunction } : {}),
    ...jobOf(pid),
  };
}

async function supervisorEntry(
  caller: ProcessContext,
  node: Node,
  pid: Pid,
  id: string | undefined,
  jobOf: JobOf,
): Promise<TreeEntry> {
  const client = new SupervisorClient(caller, pid, CALL_TIMEOUT_MS);
  const [flags, children] = await Promise.all([client.getFlags(), client.whichChildren()]);
  const name = node.processInfo(pid)?.registeredName;
  const entries: TreeEntry[] = [];
  for (const child of children.slice(0, MAX_CHILDREN)) {
    const childId = child.id ?? undefined;
    if (child.pid === undefined || child.pid === 'restarting') {
      entries.push({
        ...(childId === undefined ? {} : { id: childId }),
        kind: child.type,
        state: child.pid === 'restarting' ? 'restarting' : 'stopped',
      });
    } else if (child.type === 'supervisor') {
      entries.push(await supervisorEntry(caller, node, child.pid, childId, jobOf));
    } else {
      entries.push(leaf(node, child.pid, childId, jobOf));
    }
  }
  return {
    pid,
    ...(id === undefined ? {} : { id }),
    ...(name ? { name } : {}),
    kind: 'supervisor',
    strategy: flags.strategy,
    children: entries,
    ...(children.length > entries.length ? { more: children.length - entries.length } : {}),
  };
}

/**
 * The node's supervision tree from its root supervisor down, read through the supervisors' own
 * API (which_children and their flags) by the calling process. Undefined when there is no root
 * or a supervisor does not answer in time.
 */
export async function readSupervisionTree(
  caller: ProcessContext,
  node: Node,
  jobOf: JobOf,
): Promise<TreeEntry | undefined> {
  const root = node.whereis(ROOT_SUPERVISOR);
  if (root === undefined) return undefined;
  try {
    return await supervisorEntry(caller, node, root, undefined, jobOf);
  } catch {
    return undefined;
  }
}

/** What a process is linked to and what it monitors, from the kernel's own record. */
export function relationsOf(node: Node, pid: Pid): ProcessRelations | undefined {
  const info = node.processInfo(pid);
  if (!info) return undefined;
  const monitors = info.monitors.map((m) => m.pid);
  return {
    links: info.links.slice(0, MAX_RELATIONS),
    monitors: monitors.slice(0, MAX_RELATIONS),
    ...(info.links.length > MAX_RELATIONS ? { linksMore: info.links.length - MAX_RELATIONS } : {}),
    ...(monitors.length > MAX_RELATIONS ? { monitorsMore: monitors.length - MAX_RELATIONS } : {}),
  };
}
