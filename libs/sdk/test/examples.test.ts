import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, eventually, json, REPO_DIR, startCli, usePlatform } from './platform.js';

const platform = usePlatform();
const example = (name: string) => join(REPO_DIR, 'examples', name, 'index.ts');

/** What the fetch example reads: a task list as https://jsonplaceholder.typicode.com/todos serves it. */
const TASKS = [
  { userId: 1, id: 1, title: 'write the report', completed: true },
  { userId: 1, id: 2, title: 'review the budget', completed: false },
  { userId: 2, id: 3, title: 'ship v2', completed: true },
  { userId: 2, id: 4, title: 'plan the offsite', completed: true },
  { userId: 3, id: 5, title: 'hire an engineer', completed: false },
  { userId: 3, id: 6, title: 'fix the build', completed: false },
  { userId: 3, id: 7, title: 'not a task' },
];

let tasksServer: Server;
let tasksUrl: string;
beforeAll(async () => {
  tasksServer = createServer((request, response) => {
    if (request.url !== '/todos') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(TASKS));
  });
  await new Promise<void>((resolve) => tasksServer.listen(0, '127.0.0.1', resolve));
  tasksUrl = `http://127.0.0.1:${(tasksServer.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => tasksServer.close(resolve)));

describe('the examples, deployed and run through the CLI', () => {
  it('fetch-transform fetches a task list over HTTP and reports per assignee', async () => {
    expect((await cli(platform, ['deploy', example('fetch-transform')])).code).toBe(0);
    const run = await cli(platform, [
      'run',
      'fetch-transform',
      '--input',
      JSON.stringify({ url: `${tasksUrl}/todos` }),
      '--wait',
    ]);
    expect(run.stderr).toContain('[info] fetched 6 tasks from 127.0.0.1');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      source: `${tasksUrl}/todos`,
      tasks: 6,
      assignees: [
        { userId: 3, done: 0, open: 2, ratio: 0, nextUp: 'hire an engineer' },
        { userId: 1, done: 1, open: 1, ratio: 0.5, nextUp: 'review the budget' },
        { userId: 2, done: 2, open: 0, ratio: 1, nextUp: null },
      ],
    });

    const notFound = await cli(platform, [
      'run',
      'fetch-transform',
      '--input',
      JSON.stringify({ url: `${tasksUrl}/missing` }),
      '--attempts',
      '1',
      '--wait',
      '--json',
    ]);
    expect(notFound.code).toBe(1);
    expect(json(notFound).exit.message).toContain('answered 404');
  });

  it('prime-sieve keeps a CPU busy and reports its progress', async () => {
    expect((await cli(platform, ['deploy', example('prime-sieve')])).code).toBe(0);
    const run = await cli(platform, ['run', 'prime-sieve', '--input', '{"limit": 20000000}', '--wait']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ limit: 20_000_000, primes: 1_270_607, largest: 19_999_999 });
    // Progress reaches the client as the job reports it (the node keeps the latest value per flush).
    const reported = [...run.stderr.matchAll(/^progress (\{.*\})$/gm)].map((match) => JSON.parse(match[1] as string));
    expect(reported.at(-1)).toEqual({ percent: 100, primes: 1_270_607, checked: 20_000_000 });
    const percents = reported.map((progress) => progress.percent as number);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));

    const bad = await cli(platform, ['run', 'prime-sieve', '--input', '{"limit": 1}', '--attempts', '1', '--wait']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('limit must be a whole number from 2 to 2,000,000,000; got 1');
  });

  it('validate-order bundles zod, prices a valid order and fails an invalid one naming the fields', async () => {
    const deployed = json(await cli(platform, ['deploy', example('validate-order'), '--json']));
    expect(deployed).toMatchObject({ name: 'validate-order', version: 1, created: true });
    const order = {
      orderId: 'A-1001',
      currency: 'EUR',
      customer: { email: 'ada@example.com', country: 'FR' },
      lines: [
        { sku: 'BOOK-42', quantity: 2, unitPriceCents: 1500 },
        { sku: 'PEN-7', quantity: 3, unitPriceCents: 250 },
      ],
      couponPercent: 10,
    };
    const run = await cli(platform, ['run', 'validate-order', '--input', JSON.stringify(order), '--wait']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      orderId: 'A-1001',
      currency: 'EUR',
      items: 5,
      subtotalCents: 3750,
      discountCents: 375,
      taxCents: 675,
      totalCents: 4050,
    });

    const invalid = { ...order, customer: { email: 'nobody', country: 'FR' }, lines: [] };
    const refused = await cli(platform, [
      'run',
      'validate-order',
      '--input',
      JSON.stringify(invalid),
      '--attempts',
      '1',
      '--wait',
      '--json',
    ]);
    expect(refused.code).toBe(1);
    const message = json(refused).exit.message as string;
    expect(message).toContain('invalid order');
    expect(message).toContain('customer.email');
    expect(message).toContain('an order has at least one line');
  });

  it('counter receives messages sent with `beamline send`, shows in `ps`, and can be killed with `beamline kill`', async () => {
    expect((await cli(platform, ['deploy', example('counter')])).code).toBe(0);
    const submitted = json(await cli(platform, ['run', 'counter', '--input', '{"idleMs": 60000}', '--json']));
    const pid = await eventually(async () => {
      const job = json(await cli(platform, ['jobs', 'get', submitted.id, '--json']));
      return job.state === 'running' && job.pid ? (job.pid as string) : undefined;
    }, 'the counter to run');

    const ps = await eventually(async () => {
      const result = json(await cli(platform, ['ps', '--json']));
      return result.processes.find((p: { pid: string }) => p.pid === pid);
    }, 'the counter to show in ps');
    expect(ps).toMatchObject({ pid, jobId: submitted.id });
    const table = await cli(platform, ['ps']);
    expect(table.stdout).toMatch(/^PID +JOB +FUNCTION +STATUS +PRIORITY +CPU +MEMORY +MAILBOX$/m);
    expect(table.stdout).toContain(pid);

    for (const message of ['{"type":"add","amount":5}', '"hello"', '{"type":"add","amount":37}']) {
      const sent = await cli(platform, ['send', pid, message]);
      expect(sent.stdout).toBe(`message sent to ${pid} (job ${submitted.id})\n`);
    }
    expect((await cli(platform, ['send', pid, '{"type":"stop"}', '--json'])).code).toBe(0);
    const ended = json(await cli(platform, ['jobs', 'get', submitted.id, '--wait', '--json']));
    expect(ended).toMatchObject({ state: 'completed', result: { total: 42, added: 2, ignored: 1, stoppedBy: 'stop' } });
    const logs = (await cli(platform, ['jobs', 'logs', submitted.id])).stdout;
    expect(logs).toContain('[info] +5 → 5');
    expect(logs).toContain('[warn] ignored "hello"');
    expect(logs).toContain('[info] +37 → 42');

    const victim = json(await cli(platform, ['run', 'counter', '--attempts', '1', '--json']));
    const victimPid = await eventually(async () => {
      const job = json(await cli(platform, ['jobs', 'get', victim.id, '--json']));
      return job.state === 'running' && job.pid ? (job.pid as string) : undefined;
    }, 'the second counter to run');
    const killed = await cli(platform, ['kill', victimPid]);
    expect(killed.stdout).toBe(`kill sent to ${victimPid} (job ${victim.id})\n`);
    const dead = await cli(platform, ['jobs', 'get', victim.id, '--wait', '--json']);
    expect(dead.code).toBe(1);
    expect(json(dead)).toMatchObject({ state: 'failed', exit: { reason: 'killed' } });

    // Once its node's next heartbeat has dropped it, the pid names no process.
    const gone = await eventually(async () => {
      const sent = await cli(platform, ['send', victimPid, '1']);
      return sent.code === 0 ? undefined : sent;
    }, 'the killed pid to be gone');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('noproc');
  });
});

describe('top', () => {
  it('shows each node with its scheduler figures and busiest processes (admin key)', async () => {
    const busy = json(await cli(platform, ['run', 'counter', '--input', '{"idleMs": 60000}', '--json']));
    await eventually(async () => {
      const processes = json(await cli(platform, ['ps', '--json'])).processes as { jobId?: string }[];
      return processes.some((p) => p.jobId === busy.id) ? true : undefined;
    }, 'the counter to show in ps');

    const snapshot = json(await cli(platform, ['top', '--once', '--json'], { as: 'admin' }));
    expect(snapshot.nodes).toHaveLength(1);
    expect(snapshot.nodes[0].stats).toMatchObject({
      cores: expect.any(Number),
      runQueue: { normal: expect.any(Number) },
    });
    expect(snapshot.processes.map((p: { jobId: string }) => p.jobId)).toContain(busy.id);

    const screen = await cli(platform, ['top', '--once'], { as: 'admin' });
    expect(screen.code).toBe(0);
    expect(screen.stdout).toMatch(/^beamline top · 1 node · \d+ processes/);
    expect(screen.stdout).toMatch(/^ {2}utilization \d+\.\d% of \d+ cores/m);
    expect(screen.stdout).toMatch(/^ {2}live \d+\/\d+ {2}run queue: max \d+ {2}high \d+ {2}normal \d+ {2}low \d+$/m);
    expect(screen.stdout).toMatch(/^ {2}PID +JOB +FUNCTION/m);

    const tenantView = await cli(platform, ['top', '--once']);
    expect(tenantView.code).toBe(0);
    expect(tenantView.stdout).toContain('(scheduler figures need the admin key: showing your processes only)');
    expect(tenantView.stdout).toContain(busy.id);

    // Live: a new screen every interval until interrupted.
    const live = startCli(platform, ['top', '--interval', '200'], { as: 'admin' });
    let output = '';
    live.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await eventually(async () => ((output.match(/beamline top ·/g)?.length ?? 0) >= 3 ? true : undefined), '3 screens');
    live.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => live.on('close', resolve));
    expect(code).toBe(0);
    await cli(platform, ['jobs', 'cancel', busy.id]);
  });
});
