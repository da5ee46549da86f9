import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_TENANT,
  ChildJobError,
  ControlPublisher,
  decodeControl,
  describeExit,
  encodeExit,
  FunctionRegistry,
  type JobData,
  JobStore,
  type ParentOfChild,
} from '../src/index.js';
import { until, useStoreHarness } from './store-harness.js';

const harness = useStoreHarness('trees');
const { keys, connect } = harness;
let redis: Redis;
let store: JobStore;

/** A BullMQ Worker on a store connection, named like a node. */
const worker = (name: string, process: (job: Job<JobData>) => Promise<unknown>) => harness.worker(name, process, 8);

const parentOf = (jobId: string, more: Partial<ParentOfChild> = {}): ParentOfChild => ({
  jobId,
  relation: 'link',
  maxChildren: 1000,
  maxDepth: 10,
  ...more,
});

async function listen(node: string): Promise<string[]> {
  const subscriber = connect();
  const heard: string[] = [];
  subscriber.on('message', (_channel, text) => heard.push(text));
  await subscriber.subscribe(keys.control(node));
  return heard;
}

beforeAll(async () => {
  redis = connect();
  const registry = new FunctionRegistry(redis, keys);
  store = new JobStore(redis, keys, registry, new ControlPublisher(redis, keys), { backlogCap: 50 });
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
});

afterAll(async () => {
  await store.close();
});

describe('JobStore: job trees', () => {
  it('records parent and children with the submission; a replayed key adds no child', async () => {
    const { job: parent } = await store.submit({ function: 'echo', delayMs: 60_000 }, 'tree-a');
    const first = await store.submitChild({ function: 'echo', input: 1 }, 'tree-a', parentOf(parent.id), 'k1');
    expect(first.job.parent).toEqual({ id: parent.id, relation: 'link' });
    const again = await store.submitChild({ function: 'echo', input: 1 }, 'tree-a', parentOf(parent.id), 'k1');
    expect(again.replayed).toBe(true);
    expect(again.job.id).toBe(first.job.id);
    const second = await store.submitChild(
      { function: 'echo' },
      'tree-a',
      parentOf(parent.id, { relation: 'monitor' }),
      'k2',
    );
    const view = await store.getOf('tree-a', parent.id);
    expect(view?.children).toEqual({ total: 2, ids: [first.job.id, second.job.id] });
    expect((await store.getOf('tree-a', second.job.id))?.parent).toEqual({ id: parent.id, relation: 'monitor' });
    expect(await store.children('tree-a', parent.id, 1, 10)).toEqual({ ids: [second.job.id], total: 2 });
    expect(await store.children('intruder', parent.id, 0, 10)).toBeUndefined();
  });

  it('refuses a parent of another tenant, too many children, a tree too deep and a full backlog, writing nothing', async () => {
    const { job: parent } = await store.submit({ function: 'echo', delayMs: 60_000 }, 'tree-b');
    await expect(store.submitChild({ function: 'echo' }, 'tree-x', parentOf(parent.id), undefined)).rejects.toThrow(
      ChildJobError,
    );
    await store.submitChild(
      { function: 'echo', delayMs: 60_000 },
      'tree-b',
      parentOf(parent.id, { maxChildren: 1 }),
      undefined,
    );
    const full = store.submitChild({ function: 'echo' }, 'tree-b', parentOf(parent.id, { maxChildren: 1 }), undefined);
    await expect(full).rejects.toMatchObject({ code: 'children_full' });
    await expect(full).rejects.toThrow(/at most 1/);
    let at = parent.id;
    for (let depth = 1; depth <= 3; depth++) {
      at = (
        await store.submitChild(
          { function: 'echo', delayMs: 60_000 },
          'tree-b',
          parentOf(at, { maxDepth: 3 }),
          undefined,
        )
      ).job.id;
    }
    const deep = store.submitChild({ function: 'echo' }, 'tree-b', parentOf(at, { maxDepth: 3 }), undefined);
    await expect(deep).rejects.toMatchObject({ code: 'too_deep' });
    expect(await store.backlog('tree-b')).toBe(5);
  });

  it("records a child's end for its open parent and tells the parent's node", async () => {
    const heard = await listen('node-p');
    let releaseParent: () => void = () => undefined;
    const parentRuns = new Promise<string>((resolve) => {
      worker('node-p', async (job) => {
        if (job.data.input === 'parent') {
          resolve(job.id as string);
          await new Promise<void>((r) => {
            releaseParent = r;
          });
        }
        return 'done';
      });
    });
    await store.submit({ function: 'echo', input: 'parent' }, 'tree-c');
    const parentId = await parentRuns;
    const { job: child } = await store.submitChild(
      { function: 'echo', input: 'child' },
      'tree-c',
      parentOf(parentId),
      undefined,
    );
    const told = await until(
      async () => heard.map((t) => decodeControl(t)),
      (m) => m.length > 0,
    );
    expect(told).toContainEqual({ type: 'child', tenant: 'tree-c', parent: parentId, child: child.id });
    expect(await store.childEnds(parentId, 0)).toEqual([child.id]);
    releaseParent();
    await until(
      () => store.get(parentId),
      (j) => j?.state === 'completed',
    );
    expect(await redis.exists(`${keys.queue}bl:ends:${parentId}`)).toBe(0);
  });

  it('a parent that fails for good takes its linked open children: removed when waiting, cancelled on their node when running', async () => {
    const heard = await listen('node-q');
    let failParent: () => void = () => undefined;
    let childRunning: (id: string) => void = () => undefined;
    const running = new Promise<string>((resolve) => {
      childRunning = resolve;
    });
    const parentRuns = new Promise<string>((resolve) => {
      worker('node-q', async (job) => {
        if (job.data.input === 'parent') {
          resolve(job.id as string);
          await new Promise<void>((r) => {
            failParent = r;
          });
          throw new UnrecoverableError(encodeExit(describeExit({ error: new Error('parent broke') })));
        }
        childRunning(job.id as string);
        await until(
          async () => (await store.queue.getJob(job.id as string))?.data.cancelled,
          (c) => c === true,
        );
        throw new UnrecoverableError(encodeExit(describeExit('cancelled')));
      });
    });
    await store.submit({ function: 'echo', input: 'parent' }, 'tree-d');
    const parentId = await parentRuns;
    const { job: runningChild } = await store.submitChild(
      { function: 'echo', input: 'run' },
      'tree-d',
      parentOf(parentId),
      undefined,
    );
    expect(await running).toBe(runningChild.id);
    const { job: waitingChild } = await store.submitChild(
      { function: 'echo', delayMs: 60_000 },
      'tree-d',
      parentOf(parentId),
      undefined,
    );
    const { job: monitored } = await store.submitChild(
      { function: 'echo', delayMs: 60_000 },
      'tree-d',
      parentOf(parentId, { relation: 'monitor' }),
      undefined,
    );
    failParent();
    await until(
      () => store.get(parentId),
      (j) => j?.state === 'failed',
    );
    expect(await store.get(waitingChild.id)).toBeUndefined();
    expect((await store.get(monitored.id))?.state).toBe('delayed');
    const cancels = await until(
      async () => heard.map((t) => decodeControl(t)).filter((m) => m?.type === 'cancel'),
      (m) => m.length > 0,
    );
    expect(cancels).toEqual([{ type: 'cancel', tenant: 'tree-d', jobId: runningChild.id, attempt: 1 }]);
    expect(
      (
        await until(
          () => store.get(runningChild.id),
          (j) => j?.state === 'cancelled',
        )
      )?.state,
    ).toBe('cancelled');
    expect(await store.openJobs('tree-d')).toEqual([monitored.id]);
  });

  it('cancelling a root takes its tree one parent per step: its own step its children, later steps the rest', async () => {
    const child = (parent: string) =>
      store.submitChild({ function: 'echo', delayMs: 60_000 }, 'tree-e', parentOf(parent), undefined);
    const root = (await store.submit({ function: 'echo', delayMs: 60_000 }, 'tree-e')).job.id;
    const children: string[] = [];
    for (let i = 0; i < 3; i++) children.push((await child(root)).job.id);
    for (const id of children) for (let j = 0; j < 4; j++) await child(id);
    expect(await store.backlog('tree-e')).toBe(16);
    expect(await store.cancel(root, 'tree-e')).toBe('removed');
    // The root's step removed its three children; their twelve children wait for steps of their own.
    expect(await store.backlog('tree-e')).toBe(12);
    expect(await store.continueCascades(1)).toBe(2);
    expect(await store.backlog('tree-e')).toBe(8);
    expect(await store.continueCascades(10)).toBe(0);
    expect(await store.backlog('tree-e')).toBe(0);
    expect(await store.openJobs('tree-e')).toEqual([]);
  });
});
