import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Pid } from '../../src/index.js';
import { CpuGroups, groupName } from '../../src/isolated/cpu-groups.js';
import { functions, isolatedNode, until, untilRunning } from './setup.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const privileged = process.platform === 'linux' && process.getuid?.() === 0;

/** Whether this machine lets a root process make CPU groups (cgroup v1 cpu or v2 with cpu). */
function groupsPossible(): boolean {
  const probe = new CpuGroups();
  const possible = probe.status().base !== undefined;
  probe.close();
  return possible;
}

describe('tenants share the CPU', () => {
  it.runIf(privileged)(
    "one tenant's single busy job gets several times the CPU of each of another tenant's six",
    async () => {
      expect(groupsPossible(), 'a root process on Linux can make CPU groups here').toBe(true);
      const test = isolatedNode();
      const { node, scheduler } = test;
      const crowd = Array.from({ length: 6 }, () =>
        scheduler.spawn(functions.busyLoop, null, { tenant: 'crowd', priority: 'normal' }),
      );
      const alone = scheduler.spawn(functions.busyLoop, null, { tenant: 'alone', priority: 'normal' });
      for (const pid of [...crowd, alone]) await untilRunning(node, pid);
      await sleep(300);
      const cpu = (pid: Pid) => node.processInfo(pid)?.cpuTimeNs ?? 0;
      const before = new Map([...crowd, alone].map((pid) => [pid, cpu(pid)]));
      await sleep(2000);
      const used = (pid: Pid) => cpu(pid) - (before.get(pid) ?? 0);
      const crowdEach = crowd.reduce((sum, pid) => sum + used(pid), 0) / crowd.length;
      // By process, the seven would get one seventh of the cores each; by tenant, the lone job gets
      // half of them (one core of two) and each of the six a sixth of the other half: 6× as much.
      expect(used(alone) / crowdEach).toBeGreaterThan(2.5);
      expect(scheduler.stats().priorities.tenantShares).toMatchObject({ enforced: true, reason: undefined });
      const base = scheduler.stats().priorities.tenantShares.base as string;
      const groups = readdirSync(base, { withFileTypes: true }).filter((entry) => entry.isDirectory());
      expect(groups.map((entry) => entry.name).sort()).toEqual([groupName('alone'), groupName('crowd')]);
      const procs = readFileSync(join(base, groupName('crowd'), 'normal', 'cgroup.procs'), 'utf8')
        .trim()
        .split('\n');
      expect(procs).toHaveLength(6);
      for (const pid of [...crowd, alone]) node.exit(pid, 'kill');
      await scheduler.close();
      await until(() => !existsSync(base), 10_000);
    },
    60_000,
  );

  it.runIf(privileged)(
    "a tenant's priorities order its own jobs, and raising them takes nothing from another tenant",
    async () => {
      const { node, scheduler } = isolatedNode();
      const cpu = (pid: Pid) => node.processInfo(pid)?.cpuTimeNs ?? 0;
      const greedy = Array.from({ length: 2 }, () =>
        scheduler.spawn(functions.busyLoop, null, { tenant: 'greedy', priority: 'max' }),
      );
      const victim = Array.from({ length: 2 }, () =>
        scheduler.spawn(functions.busyLoop, null, { tenant: 'victim', priority: 'normal' }),
      );
      const ownLow = Array.from({ length: 3 }, () =>
        scheduler.spawn(functions.busyLoop, null, { tenant: 'victim', priority: 'low' }),
      );
      const all = [...greedy, ...victim, ...ownLow];
      for (const pid of all) await untilRunning(node, pid);
      await sleep(300);
      const before = new Map(all.map((pid) => [pid, cpu(pid)]));
      await sleep(2000);
      const used = (pids: Pid[]) => pids.reduce((sum, pid) => sum + cpu(pid) - (before.get(pid) ?? 0), 0);
      // The victim's normal jobs keep a tenant's share beside the greedy tenant's max ones
      // (by priority across tenants they would get about a hundredth of it)...
      expect(used(victim) / used(greedy)).toBeGreaterThan(0.5);
      // ...and come before the victim's own low-priority ones.
      expect(used(victim) / Math.max(used(ownLow), 1)).toBeGreaterThan(2.5);
      for (const pid of all) node.exit(pid, 'kill');
    },
    60_000,
  );

  it('names a group after the tenant only when that is a safe file name', () => {
    expect(groupName('acme-1')).toBe('t-acme-1');
    expect(groupName(undefined)).toBe('none');
    expect(groupName('../../etc')).toMatch(/^h-[0-9a-f]{24}$/);
    expect(groupName('a'.repeat(65))).toMatch(/^h-[0-9a-f]{24}$/);
  });

  it('says why tenants do not get equal shares when no group can be made', () => {
    const groups = new CpuGroups();
    const status = groups.status();
    if (status.base === undefined) expect(status).toMatchObject({ enforced: false, reason: expect.any(String) });
    else expect(status).toMatchObject({ enforced: false, reason: 'no sandbox has run yet' });
    groups.close();
  });
});
