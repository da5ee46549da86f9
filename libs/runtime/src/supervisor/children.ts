import type { Pid } from '../pid.js';
import type { ResolvedChildSpec } from './types.js';

/** Marks a child whose restart failed and will be retried (OTP's {restarting, _}). */
export const RESTARTING: unique symbol = Symbol('restarting');

export type ChildPid = Pid | undefined | typeof RESTARTING;

export interface StaticChild {
  readonly spec: ResolvedChildSpec;
  pid: ChildPid;
}

export function isRunning(pid: ChildPid): pid is Pid {
  return typeof pid === 'string';
}

/** The children of a static supervisor, in start order, found by id or by pid. */
export class StaticChildren {
  private readonly list: StaticChild[] = [];
  private readonly ids = new Map<string, StaticChild>();
  private readonly pids = new Map<Pid, StaticChild>();

  get size(): number {
    return this.list.length;
  }

  inStartOrder(): readonly StaticChild[] {
    return this.list;
  }

  byId(id: string): StaticChild | undefined {
    return this.ids.get(id);
  }

  byPid(pid: Pid): StaticChild | undefined {
    return this.pids.get(pid);
  }

  append(spec: ResolvedChildSpec, pid: ChildPid): StaticChild {
    const child: StaticChild = { spec, pid: undefined };
    this.list.push(child);
    this.ids.set(spec.id, child);
    this.setPid(child, pid);
    return child;
  }

  setPid(child: StaticChild, pid: ChildPid): void {
    if (isRunning(child.pid)) this.pids.delete(child.pid);
    child.pid = pid;
    if (isRunning(pid)) this.pids.set(pid, child);
  }

  remove(child: StaticChild): void {
    const index = this.list.indexOf(child);
    if (index >= 0) this.list.splice(index, 1);
    this.ids.delete(child.spec.id);
    if (isRunning(child.pid)) this.pids.delete(child.pid);
  }

  /** `child` and every child started after it (rest_for_one). */
  fromChild(child: StaticChild): StaticChild[] {
    return this.list.slice(this.list.indexOf(child));
  }

  has(child: StaticChild): boolean {
    return this.ids.get(child.spec.id) === child;
  }
}

export interface DynamicChild {
  /** Arguments to restart with; not kept for temporary children, which are never restarted. */
  readonly args: readonly unknown[] | undefined;
  readonly restarting: boolean;
}

/**
 * The children of a simple_one_for_one supervisor, keyed by pid in start order. A child whose
 * restart failed stays under its old pid, marked restarting, until the retry.
 */
export class DynamicChildren {
  private readonly entries = new Map<Pid, DynamicChild>();
  private restartingCount = 0;

  get size(): number {
    return this.entries.size;
  }

  get restarting(): number {
    return this.restartingCount;
  }

  get(pid: Pid): DynamicChild | undefined {
    return this.entries.get(pid);
  }

  set(pid: Pid, child: DynamicChild): void {
    this.delete(pid);
    this.entries.set(pid, child);
    if (child.restarting) this.restartingCount++;
  }

  delete(pid: Pid): void {
    const child = this.entries.get(pid);
    if (!child) return;
    this.entries.delete(pid);
    if (child.restarting) this.restartingCount--;
  }

  entriesInStartOrder(): IterableIterator<[Pid, DynamicChild]> {
    return this.entries.entries();
  }

  runningPids(): Pid[] {
    const pids: Pid[] = [];
    for (const [pid, child] of this.entries) if (!child.restarting) pids.push(pid);
    return pids;
  }

  clear(): void {
    this.entries.clear();
    this.restartingCount = 0;
  }
}
