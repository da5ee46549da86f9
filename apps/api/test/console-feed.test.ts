import { describe, expect, it } from 'vitest';
import { ClusterFeed, type FeedTick, type NodeBeat } from '../src/console/cluster-feed.js';

const beat = (node: string, at: number, tenants: string[]): NodeBeat => ({
  node,
  at,
  stats: { utilization: 0.5, runQueue: { max: 0, high: 0, normal: 1, low: 0 } },
  processes: tenants.map((tenant, i) => ({ pid: `${node}.${i + 1}`, tenant, jobId: String(i + 1), status: 'running' })),
});

/** Resolves with the next `count` ticks a new subscriber sees. */
function ticks(feed: ClusterFeed, count: number): Promise<FeedTick[]> {
  return new Promise((resolve) => {
    const seen: FeedTick[] = [];
    const stop = feed.subscribe((tick) => {
      seen.push(tick);
      if (seen.length === count) {
        stop();
        resolve(seen);
      }
    });
  });
}

describe('the console feed', () => {
  it('reads the heartbeats once a tick however many viewers follow it, and not at all when none does', async () => {
    let at = 1;
    const feed = new ClusterFeed(async () => [beat('n1', at++, ['acme'])], { tickMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(feed.reads).toBe(0);
    const many = await Promise.all(Array.from({ length: 50 }, () => ticks(feed, 3)));
    // 50 viewers joined together: each saw the same ticks, read once each.
    expect(feed.reads).toBeLessThanOrEqual(4);
    expect(new Set(many.map((seen) => seen[2]))).toHaveProperty('size', 1);
    expect(feed.viewers).toBe(0);
    const after = feed.reads;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(feed.reads).toBe(after);
  });

  it('shows a tenant only its own processes and no node, and the admin everything, serialized once per audience', async () => {
    const feed = new ClusterFeed(async () => [beat('n1', 1, ['acme', 'globex']), beat('n2', 1, ['globex'])], {
      tickMs: 20,
    });
    const [tick] = (await ticks(feed, 1)) as [FeedTick];
    const acme = JSON.parse(tick.payloadFor({ tenant: 'acme', admin: false }));
    expect(acme.processes.map((p: { pid: string }) => p.pid)).toEqual(['n1.1']);
    expect(acme.nodes).toBeUndefined();
    const admin = JSON.parse(tick.payloadFor({ tenant: 'admin', admin: true }));
    expect(admin.processes).toHaveLength(3);
    expect(admin.nodes.map((n: { node: string }) => n.node)).toEqual(['n1', 'n2']);
    expect(tick.payloadFor({ tenant: 'acme', admin: false })).toBe(tick.payloadFor({ tenant: 'acme', admin: false }));
  });

  it("keeps one sample per heartbeat for each live node's charts, and marks ticks when Redis fails", async () => {
    const start = Date.now();
    let at = 0;
    let failing = false;
    const feed = new ClusterFeed(
      async () => {
        if (failing) throw new Error('Connection is closed.');
        at += 0.5;
        return [beat('n1', start + Math.floor(at), [])];
      },
      { tickMs: 5 },
    );
    await ticks(feed, 6);
    expect(feed.samples().n1?.map((s) => s.at - start)).toEqual([0, 1, 2, 3]);
    failing = true;
    const [failed] = (await ticks(feed, 2)).slice(1) as [FeedTick];
    expect(failed.redis).toBe(false);
    expect(JSON.parse(failed.payloadFor({ tenant: 'admin', admin: true })).nodes).toHaveLength(1);
  });
});

describe('supervision trees and process relations in the feed', () => {
  const tree = {
    pid: 'n1.10',
    name: 'beamline_root',
    kind: 'supervisor' as const,
    strategy: 'rest_for_one',
    children: [
      { pid: 'n1.12', id: 'heartbeat', kind: 'worker' as const, label: 'heartbeat' },
      {
        pid: 'n1.11',
        id: 'jobs',
        name: 'beamline_jobs',
        kind: 'supervisor' as const,
        strategy: 'simple_one_for_one',
        children: [
          { pid: 'n1.1', kind: 'worker' as const, jobId: '1', tenant: 'acme', label: 'sleep@1' },
          { pid: 'n1.2', kind: 'worker' as const, jobId: '2', tenant: 'globex', label: 'sleep@1' },
          { pid: 'n1.3', kind: 'worker' as const, jobId: '3', tenant: 'acme', label: 'sleep@1' },
        ],
        more: 3,
      },
    ],
  };
  // n1.1 and n1.3 are acme's, n1.2 globex's, n1.11 the job supervisor.
  const withRelations: NodeBeat = {
    ...beat('n1', 1, ['acme', 'globex', 'acme']),
    tree,
    relations: {
      'n1.1': { links: ['n1.11', 'n1.2', 'n1.3'], monitors: ['n1.2', 'n1.3'], linksMore: 7 },
      'n1.3': { links: ['n1.11', 'n1.1'], monitors: [] },
    },
  };

  it('gives the admin every node tree whole and each process its links and monitors', async () => {
    const feed = new ClusterFeed(async () => [withRelations], { tickMs: 20 });
    const [tick] = (await ticks(feed, 1)) as [FeedTick];
    const admin = JSON.parse(tick.payloadFor({ tenant: 'admin', admin: true }));
    expect(admin.supervision).toEqual([{ node: 'n1', tree }]);
    expect(admin.processes[0]).toMatchObject({
      pid: 'n1.1',
      links: ['n1.11', 'n1.2', 'n1.3'],
      monitors: ['n1.2', 'n1.3'],
      linksMore: 7,
    });
  });

  it('shows a tenant only its own job processes in the tree, and no pid of a process that is not its own', async () => {
    const feed = new ClusterFeed(async () => [withRelations], { tickMs: 20 });
    const [tick] = (await ticks(feed, 1)) as [FeedTick];
    const text = tick.payloadFor({ tenant: 'acme', admin: false });
    const acme = JSON.parse(text);
    const job = (pid: string, jobId: string) => ({ pid, kind: 'worker', jobId, tenant: 'acme', label: 'sleep@1' });
    expect(acme.supervision).toEqual([
      {
        node: 'n1',
        tree: {
          kind: 'supervisor',
          name: 'beamline_root',
          strategy: 'rest_for_one',
          children: [
            {
              kind: 'supervisor',
              name: 'beamline_jobs',
              strategy: 'simple_one_for_one',
              children: [job('n1.1', '1'), job('n1.3', '3')],
            },
          ],
        },
      },
    ]);
    const byPid = (pid: string) => acme.processes.find((p: { pid: string }) => p.pid === pid);
    // The supervisor, globex's process and the 7 the node left out are counted, never named.
    expect(byPid('n1.1')).toEqual(
      expect.objectContaining({ links: ['n1.3'], monitors: ['n1.3'], linksHidden: 9, monitorsHidden: 1 }),
    );
    expect(byPid('n1.1')).not.toHaveProperty('linksMore');
    expect(byPid('n1.3')).toMatchObject({ links: ['n1.1'], linksHidden: 1, monitorsHidden: 0 });
    for (const hidden of ['n1.2', 'n1.10', 'n1.11', 'n1.12', 'globex', 'heartbeat']) expect(text).not.toContain(hidden);
    expect(JSON.parse(tick.payloadFor({ tenant: 'initech', admin: false })).supervision).toEqual([]);
  });
});
