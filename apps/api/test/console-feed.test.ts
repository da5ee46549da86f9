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
