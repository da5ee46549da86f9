import { describe, expect, it } from 'vitest';
import { BadArgError, isDownMessage, isExitMessage, Node } from '../src/index.js';
import { idle, testNode, waitForever } from './helpers.js';

describe('registered names', () => {
  it('register, whereis and unregister', async () => {
    const { node } = testNode();
    const pid = node.spawn(waitForever);
    node.register('server', pid);
    expect(node.whereis('server')).toBe(pid);
    expect(node.processInfo(pid)?.registeredName).toBe('server');
    node.unregister('server');
    expect(node.whereis('server')).toBeUndefined();
    expect(node.processInfo(pid)?.registeredName).toBeUndefined();
  });

  it('refuses a taken name, a second name for one process, a dead pid and an invalid name', async () => {
    const { node } = testNode();
    const a = node.spawn(waitForever, { name: 'a' });
    const b = node.spawn(waitForever);
    const dead = node.spawn(() => undefined);
    await node.waitExit(dead);
    expect(() => node.register('a', b)).toThrow(/already registered to/);
    expect(() => node.register('other', a)).toThrow(/already registered as "a"/);
    expect(() => node.register('late', dead)).toThrow(/not a live process/);
    expect(() => node.register('has.dot', b)).toThrow(/without "\."/);
    expect(() => node.unregister('never')).toThrow(BadArgError);
    expect(() => node.spawn(waitForever, { name: 'a' })).toThrow(/already registered to/);
  });

  it('releases the name when the process dies, before its DOWN and EXIT signals go out', async () => {
    const { node } = testNode();
    const named = node.spawn(waitForever, { name: 'worker' });
    const observed: unknown[] = [];
    const watcher = node.spawn(async (ctx) => {
      ctx.trapExit(true);
      ctx.link(named);
      ctx.monitor(named);
      for (let i = 0; i < 2; i++) {
        const message = await ctx.receive((m) => isDownMessage(m) || isExitMessage(m));
        observed.push([(message as { type: string }).type, ctx.whereis('worker')]);
      }
    });
    await idle();
    node.exit(named, 'boom');
    await node.waitExit(watcher);
    expect(observed).toHaveLength(2);
    expect(observed).toEqual(
      expect.arrayContaining([
        ['EXIT', undefined],
        ['DOWN', undefined],
      ]),
    );
  });

  it('a name freed by a death can be taken at once by a restarted process', async () => {
    const { node } = testNode();
    const first = node.spawn(waitForever, { name: 'svc' });
    await idle();
    const restarted = new Promise<string>((resolve) => {
      node.spawn(async (ctx) => {
        ctx.monitor(first);
        await ctx.receive(isDownMessage);
        resolve(ctx.spawn(waitForever, { name: 'svc' }));
      });
    });
    await idle();
    node.exit(first, 'kill');
    const successor = await restarted;
    expect(node.whereis('svc')).toBe(successor);
  });
});

describe('processInfo', () => {
  it('reports status, queue, links, monitors, name, flags, initial function, reductions and priority', async () => {
    const { node } = testNode();
    const peer = node.spawn(waitForever);
    const pid = node.spawn(
      async function inventory(ctx) {
        ctx.link(peer);
        ctx.monitor(peer);
        ctx.trapExit(true);
        await ctx.receive((m) => m === 'never');
      },
      { name: 'inventory', priority: 'high' },
    );
    await idle();
    node.send(pid, 'queued-1');
    node.send(pid, 'queued-2');
    const info = node.processInfo(pid);
    expect(info).toMatchObject({
      pid,
      kind: 'green',
      status: 'waiting',
      messageQueueLength: 2,
      links: [peer],
      monitors: [{ pid: peer, ref: expect.any(String) }],
      registeredName: 'inventory',
      trapExit: true,
      initialFunction: 'inventory',
      priority: 'high',
      memory: undefined,
      cpuTimeNs: undefined,
    });
    expect(info?.reductions).toBeGreaterThanOrEqual(4);
    expect(node.processInfo(peer)?.monitoredBy).toEqual([pid]);
    expect(node.processInfo(peer)?.status).toBe('waiting');
  });

  it('counts reductions as the process works', async () => {
    const { node } = testNode();
    const pid = node.spawn(async (ctx) => {
      for (;;) {
        const m = await ctx.receive();
        if (m === 'stop') return;
        ctx.send(ctx.self, 'stop');
      }
    });
    await idle();
    const before = node.processInfo(pid)?.reductions ?? 0;
    const exited = node.waitExit(pid);
    node.send(pid, 'work');
    await idle();
    expect(before).toBeGreaterThan(0);
    expect(await exited).toBe('normal');
  });

  it('answers undefined for a pid that is not alive', async () => {
    const { node } = testNode();
    expect(node.processInfo(`${node.id}.999`)).toBeUndefined();
  });

  it('a running process (not in receive) shows status running', async () => {
    const { node } = testNode();
    let release: () => void = () => undefined;
    const pid = node.spawn(() => new Promise<void>((resolve) => (release = resolve)));
    await idle();
    expect(node.processInfo(pid)?.status).toBe('running');
    release();
    expect(await node.waitExit(pid)).toBe('normal');
  });
});

describe('Node', () => {
  it('gives pids that name their node, unique within it', async () => {
    const node = new Node({ id: 'alpha' });
    const pids = Array.from({ length: 100 }, () => node.spawn(waitForever));
    expect(new Set(pids).size).toBe(100);
    for (const pid of pids) expect(pid).toMatch(/^alpha\.\d+$/);
    await node.stop();
  });

  it('generates distinct node ids when none is given', () => {
    expect(new Node().id).not.toBe(new Node().id);
  });

  it('rejects an invalid node id, saying what is allowed', () => {
    expect(() => new Node({ id: 'a.b' })).toThrow(/Invalid node id "a.b": use 1 to 100 characters/);
  });

  it('rejects invalid spawn options by naming the field', () => {
    const node = new Node({ id: 'opts' });
    // @ts-expect-error deliberately wrong
    expect(() => node.spawn(waitForever, { priority: 'urgent' })).toThrow(
      /options.priority must be one of max, high, normal, low/,
    );
    // @ts-expect-error deliberately wrong
    expect(() => node.spawn('not a function')).toThrow(/A process body must be a function/);
  });

  it('stop kills every process and resolves when all are gone', async () => {
    const { node } = testNode();
    for (let i = 0; i < 10; i++) node.spawn(waitForever);
    node.spawn(async (ctx) => {
      ctx.trapExit(true);
      await ctx.receive(() => false);
    });
    await node.stop();
    expect(node.processes()).toEqual([]);
    expect(node.stats().exits.killed).toBe(11);
  });

  it('start waits for the init phase and returns its value; a failed init rejects with the reason', async () => {
    const { node } = testNode();
    const started = await node.start<string>(async (_ctx, ready) => {
      ready('initialised');
      await waitForever(_ctx);
    });
    expect(started.value).toBe('initialised');
    expect(node.isAlive(started.pid)).toBe(true);
    await expect(
      node.start(() => {
        throw new Error('bad config');
      }),
    ).rejects.toMatchObject({ name: 'StartError', reason: { error: new Error('bad config') } });
  });

  it('stats count processes by status and kind, spawns and exits by reason', async () => {
    const { node } = testNode();
    node.spawn(waitForever);
    await node.waitExit(node.spawn(() => undefined));
    await node.waitExit(
      node.spawn(() => {
        throw new Error('x');
      }),
    );
    const stats = node.stats();
    expect(stats).toMatchObject({
      nodeId: 'test',
      processes: {
        total: 1,
        byStatus: { runnable: 0, waiting: 1, running: 0, exiting: 0 },
        byKind: { green: 1, isolated: 0 },
      },
      spawned: 3,
      exits: { normal: 1, error: 1 },
    });
  });
});
