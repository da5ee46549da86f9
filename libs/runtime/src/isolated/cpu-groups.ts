import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Priority } from '../priority.js';

/**
 * Shares the CPU between tenants through Linux control groups. Each sandbox process is placed in
 * `<base>/<tenant>/<priority>`, under one base group per scheduler. Sibling groups get the CPU by
 * weight, whatever number of processes each holds: the tenants equally, and within a tenant its
 * priorities far apart (max ≫ high ≫ normal ≫ low). A tenant chooses its jobs' priorities, so
 * they order its own work only: no priority takes another tenant's share. Works with cgroup v2
 * (`cpu.weight`) and v1 (`cpu.shares`); where neither can be written (no privilege, a container
 * without delegation), says why and places nothing.
 */

type Version = 'v1' | 'v2';

/** cpu.weight (v2, 1–10000) of each priority's group within a tenant's; v1's cpu.shares scale it by 1024/100. */
const WEIGHTS: Record<Priority, number> = { max: 10_000, high: 1000, normal: 100, low: 1 };
const BASE_PREFIX = 'beamline-';
const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export interface CpuGroupsStatus {
  /** True once a sandbox has been placed in its tenant's group. */
  readonly enforced: boolean;
  /** Why tenants do not get equal shares of the CPU, when they do not. */
  readonly reason: string | undefined;
  /** The scheduler's base group, when there is one. */
  readonly base: string | undefined;
}

interface Hierarchy {
  readonly version: Version;
  /** The directory of the group the calling process is in, under which ours are made. */
  readonly parent: string;
}

/** The group directory this process belongs to, for the CPU controller, and the cgroup version. */
function ownHierarchy(): Hierarchy | string {
  if (process.platform !== 'linux') return 'control groups need Linux';
  let membership: string;
  try {
    membership = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return '/proc/self/cgroup cannot be read';
  }
  const lines = membership.trim().split('\n');
  const v1 = lines.map((line) => line.split(':')).find(([, controllers]) => controllers?.split(',').includes('cpu'));
  if (v1 && existsSync('/sys/fs/cgroup/cpu/cpu.shares')) {
    return { version: 'v1', parent: join('/sys/fs/cgroup/cpu', v1.slice(2).join(':')) };
  }
  const v2 = lines.find((line) => line.startsWith('0::'));
  const controllers = '/sys/fs/cgroup/cgroup.controllers';
  if (v2 && existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) {
    return { version: 'v2', parent: join('/sys/fs/cgroup', v2.slice(3)) };
  }
  return 'no CPU controller is mounted (neither cgroup v1 cpu nor cgroup v2 with cpu)';
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes a group tree bottom-up; a group that still holds a process stays. */
function removeTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return;
  }
  for (const entry of entries) removeTree(join(dir, entry));
  try {
    rmdirSync(dir);
  } catch {}
}

let created = 0;
const CLOSE_RETRY_MS = 100;
const CLOSE_RETRIES = 50;
/** Base groups not yet removable when their scheduler closed: tried once more when the process exits. */
const leftBehind = new Set<string>();
process.once('exit', () => {
  for (const base of leftBehind) removeTree(base);
});

export class CpuGroups {
  private readonly hierarchy: Hierarchy | undefined;
  private readonly base: string | undefined;
  private readonly made = new Set<string>();
  private refusal: string | undefined;
  private placed = false;

  constructor() {
    const found = ownHierarchy();
    if (typeof found === 'string') {
      this.refusal = found;
      return;
    }
    this.hierarchy = found;
    this.sweepLeftovers(found.parent);
    const base = join(found.parent, `${BASE_PREFIX}${process.pid}-${++created}`);
    try {
      if (found.version === 'v2') this.enableCpu(found.parent);
      mkdirSync(base);
      if (found.version === 'v2') this.enableCpu(base);
      this.base = base;
    } catch (error) {
      this.refusal = `control group ${base} could not be made: ${message(error)}`;
    }
  }

  /** Places the processes in the group of `tenant` at `priority`; returns the OS's refusal. */
  place(pids: readonly number[], tenant: string | undefined, priority: Priority): string | undefined {
    if (!this.base || !this.hierarchy) return this.refusal;
    const tenantDir = join(this.base, groupName(tenant));
    const dir = join(tenantDir, priority);
    try {
      this.make(tenantDir, WEIGHTS.normal, false);
      this.make(dir, WEIGHTS[priority], true);
      for (const pid of pids) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      this.placed = true;
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
      const reason = `placing a sandbox in control group ${dir} failed: ${message(error)}`;
      if (!this.placed) this.refusal = reason;
      return reason;
    }
  }

  status(): CpuGroupsStatus {
    return {
      enforced: this.placed,
      reason: this.placed ? undefined : (this.refusal ?? 'no sandbox has run yet'),
      base: this.base,
    };
  }

  /**
   * Removes the scheduler's groups. A killed sandbox leaves its group a moment after its exit is
   * seen, so removal is tried again for a few seconds, and once more as this process exits.
   */
  close(): void {
    this.made.clear();
    const base = this.base;
    if (!base) return;
    removeTree(base);
    if (!existsSync(base)) return;
    leftBehind.add(base);
    let tries = 0;
    const retry = setInterval(() => {
      removeTree(base);
      if (!existsSync(base) || ++tries >= CLOSE_RETRIES) {
        clearInterval(retry);
        if (!existsSync(base)) leftBehind.delete(base);
      }
    }, CLOSE_RETRY_MS);
    retry.unref();
  }

  /** Makes a group with its weight; `leaf`: it holds processes, not groups. */
  private make(dir: string, weight: number, leaf: boolean): void {
    if (this.made.has(dir)) return;
    try {
      mkdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (this.hierarchy?.version === 'v2') {
      writeFileSync(join(dir, 'cpu.weight'), String(weight));
      if (!leaf) this.enableCpu(dir);
    } else {
      writeFileSync(join(dir, 'cpu.shares'), String(Math.max(2, Math.round((weight * 1024) / 100))));
    }
    this.made.add(dir);
  }

  /** cgroup v2 shares the CPU between a group's children only once its subtree enables the controller. */
  private enableCpu(group: string): void {
    writeFileSync(join(group, 'cgroup.subtree_control'), '+cpu');
  }

  /** Base groups of schedulers whose process is gone (killed before it could remove them). */
  private sweepLeftovers(parent: string): void {
    let names: string[];
    try {
      names = readdirSync(parent).filter((name) => name.startsWith(BASE_PREFIX));
    } catch {
      return;
    }
    for (const name of names) {
      const pid = Number(name.slice(BASE_PREFIX.length).split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) removeTree(join(parent, name));
    }
  }
}

/** A tenant's group name: the tenant itself when it is a safe file name, else a digest of it. */
export function groupName(tenant: string | undefined): string {
  if (tenant === undefined) return 'none';
  if (TENANT_NAME.test(tenant)) return `t-${tenant}`;
  return `h-${createHash('sha256').update(tenant).digest('hex').slice(0, 24)}`;
}
