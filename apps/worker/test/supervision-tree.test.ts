import { describe, expect, it } from 'vitest';
import type { TreeEntry } from '../src/supervision-tree.js';
import { runningPid, startWorker, until, useJobs } from './helpers.js';

const t = useJobs();

interface Beat {
  readonly tree?: TreeEntry;
  readonly relations?: Record<string, { links: string[]; monitors: string[] }>;
  readonly processes?: Array<Record<string, unknown>>;
}

async function latestBeat(nodeId: string): Promise<Beat> {
  return JSON.parse((await t.j.redis.get(t.j.keys.node(nodeId))) ?? '{}') as Beat;
}

const find = (entry: TreeEntry | undefined, match: (e: TreeEntry) => boolean): TreeEntry | undefined => {
  if (!entry) return undefined;
  if (match(entry)) return entry;
  for (const child of entry.children ?? []) {
    const found = find(child, match);
    if (found) return found;
  }
  return undefined;
};

describe("the heartbeat's supervision tree and process relations", () => {
  it('publishes the root, its components, the job supervisor and the job processes under it, with their links', async () => {
    const worker = await startWorker(t.redis.server.url);
    const job = await t.j.submit({ function: 'sleep', input: { ms: 20_000 }, attempts: 1 }, 'acme');
    const pid = await runningPid(t.j, job.id);
    let beat: Beat = {};
    await until(async () => {
      beat = await latestBeat(worker.nodeId);
      return find(beat.tree, (e) => e.pid === pid) !== undefined;
    });
    const tree = beat.tree as TreeEntry;
    expect(tree).toMatchObject({ name: 'beamline_root', kind: 'supervisor', strategy: 'rest_for_one' });
    expect(tree.children?.map((c) => c.id).sort()).toEqual(['consumer', 'control', 'heartbeat', 'jobs']);
    const jobs = tree.children?.find((c) => c.id === 'jobs');
    expect(jobs).toMatchObject({ name: 'beamline_jobs', kind: 'supervisor', strategy: 'simple_one_for_one' });
    expect(jobs?.children).toEqual([
      { pid, kind: 'worker', label: expect.stringMatching(/^sleep@/), jobId: job.id, tenant: 'acme' },
    ]);
    expect(tree.children?.find((c) => c.id === 'heartbeat')).toMatchObject({ kind: 'worker', label: 'heartbeat' });
    // The job process is linked to its supervisor; the relations stay out of the process listing itself.
    expect(beat.relations?.[pid]).toEqual({ links: [jobs?.pid], monitors: [] });
    expect(beat.processes?.find((p) => p.pid === pid)).not.toHaveProperty('links');
    await t.j.store.cancel(job.id, 'acme');
  }, 30_000);
});
