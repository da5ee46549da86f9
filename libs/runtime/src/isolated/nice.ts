import type { Priority } from '../priority.js';
import type { CpuGroups, CpuGroupsStatus } from './cpu-groups.js';
import { ownNice } from './os-process.js';

/**
 * How far below the main thread each priority runs, in nice steps. Raising a thread's nice
 * value needs no privilege, so user code always runs below the main thread (supervision,
 * lock renewal) without any capability; low is always the weakest value, 19.
 */
const NICE_OFFSETS: Record<Exclude<Priority, 'low'>, number> = { max: 1, high: 2, normal: 3 };
const WEAKEST = 19;

export interface PriorityEnforcement {
  /** True once nice values have been applied to sandbox processes; false when the OS refused. */
  readonly enforced: boolean;
  /** Why priorities only order the run queue, when they do not reach the CPU. */
  readonly reason: string | undefined;
  readonly mainThreadNice: number;
  readonly niceByPriority: Record<Priority, number>;
  /** Whether tenants share the CPU equally (control groups per tenant and priority), and why not. */
  readonly tenantShares: CpuGroupsStatus;
}

/** Something a nice value can be applied to: every thread of a sandbox process. */
export interface Reniceable {
  nice: number | undefined;
  /** The OS process, once known; with `tenant`, what is placed in the tenant's CPU group. */
  readonly pid?: number | undefined;
  readonly tenant?: string | undefined;
  /** The CPU group it was placed in (`<tenant>/<priority>`). */
  group?: string | undefined;
  /** False until the OS process is known (a sandbox that has not reported ready). */
  readonly reniceable: boolean;
  /** Applies the nice value; returns the OS's refusal. */
  renice(nice: number): string | undefined;
}

/** Maps priorities to nice values and applies them to sandboxes, remembering whether the OS lets it. */
export class NicePolicy {
  readonly mainThreadNice = ownNice();
  readonly niceByPriority: Record<Priority, number>;
  private refusal: string | undefined;
  private applied = false;

  constructor(private readonly groups?: CpuGroups) {
    const below = (offset: number) => Math.min(WEAKEST, this.mainThreadNice + offset);
    this.niceByPriority = {
      max: below(NICE_OFFSETS.max),
      high: below(NICE_OFFSETS.high),
      normal: below(NICE_OFFSETS.normal),
      low: WEAKEST,
    };
  }

  /**
   * Gives the thread the nice value of `priority`. Returns false only when the OS refused to
   * lower it (that needs CAP_SYS_NICE): a warm thread that ran low work then cannot serve
   * normal work, and a fresh thread is taken instead.
   */
  apply(thread: Reniceable, priority: Priority): boolean {
    this.placeInGroup(thread, priority);
    const nice = this.niceByPriority[priority];
    if (thread.nice === nice) return true;
    if (!thread.reniceable) {
      this.refusal ??= 'the OS does not expose the sandbox process yet, or nice values need Linux';
      return true;
    }
    const error = thread.renice(nice);
    if (error === undefined) {
      thread.nice = nice;
      this.applied = true;
      return true;
    }
    if (!this.applied) this.refusal = `setpriority on sandbox threads failed: ${error}`;
    const lowering = thread.nice !== undefined && nice < thread.nice;
    return !lowering;
  }

  status(): PriorityEnforcement {
    return {
      enforced: this.applied,
      reason: this.applied ? undefined : (this.refusal ?? 'no sandbox has run yet'),
      mainThreadNice: this.mainThreadNice,
      niceByPriority: { ...this.niceByPriority },
      tenantShares: this.groups?.status() ?? { enforced: false, reason: 'not asked for', base: undefined },
    };
  }

  /** Removes the CPU groups the policy made. */
  close(): void {
    this.groups?.close();
  }

  /** Moves the sandbox to the group of its tenant and this priority, unless it is there already. */
  private placeInGroup(thread: Reniceable, priority: Priority): void {
    if (!this.groups || !thread.reniceable || thread.pid === undefined) return;
    const group = `${thread.tenant ?? ''}/${priority}`;
    if (thread.group === group) return;
    if (this.groups.place([thread.pid], thread.tenant, priority) === undefined) thread.group = group;
  }
}
