import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { functionModule, isErrorReason, type Pid } from '../../src/index.js';
import { encodeFrame, FrameReader, FrameTooLargeError } from '../../src/isolated/frames.js';
import { descendantsOf } from '../../src/isolated/os-process.js';
import { validateFromSandbox } from '../../src/isolated/validate-message.js';
import { isolatedNode, until } from './setup.js';

/** The error message of an `{ error }` exit reason, or the reason itself as text. */
function failure(reason: unknown): string {
  return isErrorReason(reason) && reason.error instanceof Error
    ? `${reason.error.name}: ${reason.error.message}`
    : String(reason);
}

const probe = (name: string, body: string) =>
  functionModule(`export default async (input, ctx) => {\n${body}\n};`, name);

describe('the job runtime has no authority of the node', () => {
  it('offers no Node globals, no environment and no code generation from strings', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(
      probe(
        'globals',
        `const tryIt = (f) => { try { return f(); } catch (e) { return e.name + ': ' + e.message; } };
         return {
           process: typeof process, require: typeof require, setImmediate: typeof setImmediate,
           globalProcess: typeof globalThis.process, eval: tryIt(() => eval('1 + 1')), fn: tryIt(() => new Function('return 1')()),
           web: [typeof fetch, typeof URL, typeof TextEncoder, typeof crypto?.subtle, typeof structuredClone, typeof AbortController, typeof setTimeout],
         };`,
      ),
    );
    expect(outcome.reason).toBe('normal');
    expect(outcome.result).toEqual({
      process: 'undefined',
      require: 'undefined',
      setImmediate: 'undefined',
      globalProcess: 'undefined',
      eval: expect.stringMatching(/EvalError: Code generation from strings disallowed/),
      fn: expect.stringMatching(/EvalError: Code generation from strings disallowed/),
      web: ['function', 'function', 'function', 'object', 'function', 'function', 'function'],
    });
  });

  it.each(['node:fs', 'node:child_process', 'node:net', 'node:worker_threads', 'fs', 'lodash', 'file:///etc/passwd'])(
    'refuses to import %s, statically or dynamically, saying how to bundle instead',
    async (specifier) => {
      const { scheduler } = isolatedNode();
      const dynamic = await scheduler.run(
        probe('dynamic-import', `return await import(${JSON.stringify(specifier)});`),
      );
      expect(failure(dynamic.reason)).toContain(`Cannot import "${specifier}"`);
      expect(failure(dynamic.reason)).toContain('bundle its dependencies');
      const staticImport = await scheduler.run(
        functionModule(`import x from ${JSON.stringify(specifier)};\nexport default async () => x;`, 'static-import'),
      );
      expect(failure(staticImport.reason)).toContain(`Cannot import "${specifier}"`);
    },
  );

  it('cannot see the node process or its environment even through the sandbox process', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(
      probe('escape', `return { env: Object.keys(globalThis.process?.env ?? {}), self: typeof navigator };`),
    );
    expect(outcome.result).toEqual({ env: [], self: 'undefined' });
    // The sandbox's own view of /proc would hold only itself (its PID namespace); the node's pid is not addressable.
    expect(scheduler.stats().sandbox.isolation).toBe('namespaces');
  });

  it('console output becomes the job log, never the node output', async () => {
    const lines: unknown[] = [];
    const { scheduler } = isolatedNode({ onLog: (entry) => lines.push([entry.level, entry.message]) });
    const outcome = await scheduler.run(
      probe('console', `console.log('{"level":60,"msg":"forged"}'); console.error('bad', { a: 1 }); return 1;`),
    );
    expect(outcome.reason).toBe('normal');
    expect(lines).toEqual([
      ['info', '{"level":60,"msg":"forged"}'],
      ['error', 'bad { a: 1 }'],
    ]);
  });
});

describe('the job runtime works', () => {
  it('offers timers, URL, text encoding, WebCrypto, structuredClone, AbortController, streams and Blob', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(
      probe(
        'web',
        `const url = new URL('https://x.example/a?b=1');
         const bytes = new TextEncoder().encode('héllo');
         const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
         const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
         const signature = await crypto.subtle.sign('HMAC', key, bytes);
         const controller = new AbortController(); controller.abort();
         await new Promise((resolve) => setTimeout(resolve, 5));
         const text = await new Response(new Blob(['a', 'b']).stream()).text();
         return {
           host: url.host, param: url.searchParams.get('b'), decoded: new TextDecoder().decode(bytes), digest: digest.length,
           signature: signature.byteLength, uuid: crypto.randomUUID().length, clone: structuredClone(new Map([[1, 2]])).get(1),
           aborted: controller.signal.aborted, text, b64: btoa('hi'),
         };`,
      ),
    );
    expect(outcome.result).toEqual({
      host: 'x.example',
      param: '1',
      decoded: 'héllo',
      digest: 32,
      signature: 32,
      uuid: 36,
      clone: 2,
      aborted: true,
      text: 'ab',
      b64: 'aGk=',
    });
  });
});

describe('limits that cannot be dodged', () => {
  it('memoryMb bounds array buffers, not only the heap: 1.5 GB of ArrayBuffers under 32 MB ends memory_limit', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(
      probe(
        'buffers',
        `const kept = []; for (let i = 0; i < 24; i++) { const b = new Uint8Array(64 * 1024 * 1024); b.fill(1); kept.push(b); } return kept.length;`,
      ),
      undefined,
      { memoryMb: 32, timeoutMs: 20_000 },
    );
    // Either the watchdog kills it, or the data limit makes an allocation fail inside the job.
    if (outcome.reason !== 'memory_limit') expect(failure(outcome.reason)).toMatch(/RangeError|memory/i);
  }, 30_000);

  it('a heap exhausted with Dates and JSON.parse results ends memory_limit and the node lives', async () => {
    const { scheduler } = isolatedNode();
    for (const fill of ['kept.push(new Date())', 'kept.push(JSON.parse(\'{"a":[1,2,3],"b":"x"}\'))']) {
      const outcome = await scheduler.run(probe('oom', `const kept = []; for (;;) ${fill};`), undefined, {
        memoryMb: 32,
        timeoutMs: 20_000,
      });
      expect(outcome.reason).toBe('memory_limit');
    }
  }, 45_000);

  it('nested threads cannot be made, and Atomics.wait without a timeout ends at the timeout', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(
      probe('atomics', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);'),
      undefined,
      { timeoutMs: 300 },
    );
    expect(outcome.reason).toBe('timeout');
  });

  it('opens no file descriptors in the node per message a job sends', async () => {
    const { scheduler } = isolatedNode();
    const fds = () => readdirSync('/proc/self/fd').length;
    await scheduler.run(probe('warm', 'return 1;'));
    const before = fds();
    const outcome = await scheduler.run(probe('chatty', 'for (let i = 0; i < 5000; i++) ctx.progress(i); return 1;'));
    expect(outcome.reason).toBe('normal');
    expect(fds() - before).toBeLessThan(10);
  });

  it('drops output beyond its rate and counts it', async () => {
    const lines: unknown[] = [];
    const { scheduler } = isolatedNode({
      outputRates: { log: { perSecond: 10, burst: 20 } },
      onLog: (entry) => lines.push(entry.message),
    });
    const started = performance.now();
    const outcome = await scheduler.run(
      probe('flood', 'for (let i = 0; i < 20000; i++) ctx.log(String(i)); return 1;'),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(outcome.reason).toBe('normal');
    // The burst, and the rate over however long the run took on this machine.
    expect(lines.length).toBeLessThanOrEqual(20 + Math.ceil(10 * seconds));
    expect(scheduler.stats().dropped.log).toBe(20_000 - lines.length);
  });

  it('drops a flood inside its sandbox: the node reads about as many messages as it keeps', async () => {
    const { scheduler } = isolatedNode({ outputRates: { log: { perSecond: 10, burst: 20 } } });
    await scheduler.run(probe('warm', 'return 1;'));
    const before = scheduler.stats().messagesIn;
    const droppedBefore = scheduler.stats().dropped.log;
    const outcome = await scheduler.run(
      probe('flood', 'for (let i = 0; i < 100000; i++) ctx.log(String(i)); return 1;'),
    );
    expect(outcome.reason).toBe('normal');
    const { messagesIn, dropped } = scheduler.stats();
    const posted = messagesIn - before;
    expect(dropped.log - droppedBefore).toBeGreaterThan(99_000);
    // The lines kept, the status updates and the end: never one message per line.
    expect(posted).toBeLessThan(100_000 - (dropped.log - droppedBefore) + 50);
    expect(posted).toBeLessThan(1000);
  });
});

describe('tenancy', () => {
  it('never reuses a warm sandbox across tenants: module state stays with its tenant', async () => {
    const { scheduler } = isolatedNode();
    const counter = functionModule('let calls = 0;\nexport default async () => ++calls;', 'counter');
    const a1 = await scheduler.run(counter, undefined, { tenant: 'a' });
    const a2 = await scheduler.run(counter, undefined, { tenant: 'a' });
    const b1 = await scheduler.run(counter, undefined, { tenant: 'b' });
    expect([a1.result, a2.result, b1.result]).toEqual([1, 2, 1]);
  });

  it('asks the guard before a job monitors another process', async () => {
    const asked: string[] = [];
    const { node, scheduler } = isolatedNode({
      signalGuard: (_from, to, operation) => {
        asked.push(operation);
        return operation === 'monitor' ? `no monitoring of ${to}` : undefined;
      },
    });
    const target: Pid = node.spawn(async (ctx) => {
      await ctx.receive(() => false);
    });
    const outcome = await scheduler.run(
      probe('monitor', `ctx.monitor(${JSON.stringify(target)}); await ctx.sleep(1000);`),
    );
    expect(asked).toContain('monitor');
    expect(failure(outcome.reason)).toContain('no monitoring of');
  });

  it('spawned processes belong to the tenant of the process that spawned them', async () => {
    const { scheduler } = isolatedNode();
    const counter = functionModule('let calls = 0;\nexport default async () => ++calls;', 'child-counter');
    scheduler.define(counter);
    const parent = probe(
      'parent',
      `await ctx.spawnMonitor(${JSON.stringify(counter.id)}); return (await ctx.receive()).reason;`,
    );
    expect((await scheduler.run(parent, undefined, { tenant: 'a' })).result).toBe('normal');
    await until(() => scheduler.stats().live === 0);
    // The child's warm sandbox is tenant a's: b starts afresh, a reuses it.
    expect((await scheduler.run(counter, undefined, { tenant: 'b' })).result).toBe(1);
    expect((await scheduler.run(counter, undefined, { tenant: 'a' })).result).toBe(2);
  });
});

describe('hosts without the kernel walls', () => {
  it('say so in stats, still run jobs with the Node walls, and refuse when namespaces are required', () => {
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const script = `
      const { Node, Scheduler, functionModule } = await import(${JSON.stringify(dist)});
      const scheduler = new Scheduler(new Node(), { prestart: 0 });
      const outcome = await scheduler.run(functionModule('export default async () => typeof process', 'plain'));
      let refused = '';
      try { new Scheduler(new Node(), { requireNamespaces: true }); } catch (e) { refused = e.message; }
      console.log(JSON.stringify({ sandbox: scheduler.stats().sandbox, result: outcome.result, refused }));
      await scheduler.close();`;
    // Without util-linux on PATH, neither unshare, setpriv nor prlimit can be found.
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { PATH: '/nonexistent' },
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({
      sandbox: {
        isolation: 'process',
        reason: expect.stringMatching(/unshare failed/),
        unprivileged: false,
        rlimits: false,
      },
      result: 'undefined',
      refused: expect.stringMatching(
        /Sandboxes need kernel namespaces on this node and cannot have them: unshare failed/,
      ),
    });
  });
});

const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z ');

describe('work a job leaves behind', () => {
  it("an unref'd timer still running after the job ended keeps its sandbox from being reused", async () => {
    const { scheduler } = isolatedNode();
    const leaver = probe(
      'unref-leaver',
      'setInterval(() => { const s = Date.now(); while (Date.now() - s < 20) {} }, 1).unref(); return 1;',
    );
    await scheduler.run(leaver, undefined, { tenant: 'a' });
    await scheduler.run(leaver, undefined, { tenant: 'a' });
    expect(scheduler.stats().pool.started).toBe(2);
  });

  it('an Atomics.waitAsync loop the job left keeps its sandbox from being reused', async () => {
    const { scheduler } = isolatedNode();
    const waiter = probe(
      'wait-async-leaver',
      'const i32 = new Int32Array(new SharedArrayBuffer(4)); (async () => { for (;;) await Atomics.waitAsync(i32, 0, 0, 100).value; })(); return 1;',
    );
    await scheduler.run(waiter, undefined, { tenant: 'a' });
    await scheduler.run(waiter, undefined, { tenant: 'a' });
    expect(scheduler.stats().pool.started).toBe(2);
  });

  it('a warm sandbox that uses CPU while idle (a microtask loop the job left) is discarded', async () => {
    const { scheduler } = isolatedNode({ sampleIntervalMs: 50 });
    const spinner = probe('microtask-spinner', '(async () => { for (;;) await null; })(); return 1;');
    expect((await scheduler.run(spinner, undefined, { tenant: 'a' })).reason).toBe('normal');
    await until(() => scheduler.stats().pool.busyWhileIdle === 1);
    expect(scheduler.stats().pool.warm).toBe(0);
  });

  it('sandboxes die with their node, even in a busy loop', async () => {
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const script = `
      const { Node, Scheduler, functionModule } = await import(${JSON.stringify(dist)});
      const scheduler = new Scheduler(new Node(), { prestart: 0 });
      const pid = scheduler.spawn(functionModule('export default async () => { for (;;) {} };', 'spin'));
      console.log(pid);`;
    const node = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve) => node.stdout.once('data', resolve));
    await until(() => descendantsOf(node.pid as number).length >= 2);
    const sandboxes = descendantsOf(node.pid as number);
    node.kill('SIGKILL');
    await until(() => sandboxes.every((pid) => !alive(pid)));
  });
});

describe('warm sandboxes', () => {
  it('are reused after a job that slept, received and logged (nothing left behind)', async () => {
    const { scheduler } = isolatedNode();
    const napper = probe('napper', "await ctx.sleep(5); ctx.log('slept'); ctx.progress(1); return 1;");
    for (let i = 0; i < 5; i++) expect((await scheduler.run(napper, undefined, { tenant: 'a' })).reason).toBe('normal');
    expect(scheduler.stats().pool.started).toBe(1);
  });

  it('report the tenant of a process, carried to what it spawns', async () => {
    const { node, scheduler } = isolatedNode();
    const waiter = functionModule('export default async (_input, ctx) => { await ctx.receive(); };', 'waiter');
    scheduler.define(waiter);
    const parent = await scheduler.run(
      probe('spawner', `return await ctx.spawn(${JSON.stringify(waiter.id)});`),
      undefined,
      {
        tenant: 'a',
      },
    );
    const child = parent.result as Pid;
    expect(node.processInfo(child)?.tenant).toBe('a');
    expect(node.processInfo(parent.pid)).toBeUndefined();
    node.exit(child, 'kill');
  });
});

describe('fetch goes through the node', () => {
  it('aborts what a job has in flight when it ends, and caps how much it has in flight', async () => {
    const signals: AbortSignal[] = [];
    const { scheduler } = isolatedNode({
      fetch: (_from, _request, signal) => {
        signals.push(signal);
        return new Promise(() => undefined);
      },
    });
    const outcome = await scheduler.run(
      probe(
        'fetch-leaver',
        "const refused = []; for (let i = 0; i < 20; i++) fetch('https://x.example/').catch((e) => refused.push(e.message)); await ctx.sleep(100); return refused;",
      ),
    );
    expect(outcome.result).toEqual(
      Array.from({ length: 4 }, () => expect.stringMatching(/at most 16 requests of one job/)),
    );
    expect(signals).toHaveLength(16);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it('fails with a clear error when the node offers no network', async () => {
    const { scheduler } = isolatedNode();
    const outcome = await scheduler.run(probe('no-net', "return await fetch('http://example.com/');"));
    expect(failure(outcome.reason)).toContain('this node offers jobs no network access');
  });

  it('hands the request to the node and the response back, with the job pid', async () => {
    const seen: unknown[] = [];
    const { scheduler } = isolatedNode({
      fetch: async (from, request) => {
        seen.push([from, request.method, request.url, new TextDecoder().decode(request.body)]);
        return {
          url: request.url,
          status: 201,
          statusText: 'Created',
          headers: [['content-type', 'application/json']],
          body: new TextEncoder().encode('{"ok":true}'),
          redirected: false,
        };
      },
    });
    const outcome = await scheduler.run(
      probe(
        'net',
        "const r = await fetch('https://api.example/things', { method: 'POST', body: 'hi' }); return { status: r.status, json: await r.json(), type: r.headers.get('content-type') };",
      ),
    );
    expect(outcome.result).toEqual({ status: 201, json: { ok: true }, type: 'application/json' });
    expect(seen).toEqual([[outcome.pid, 'POST', 'https://api.example/things', 'hi']]);
  });
});

describe('the channel from a sandbox is untrusted', () => {
  it('a job whose log line would expand to 2^40 nodes is killed before the node writes it out, and the node keeps its timing', async () => {
    const lines: unknown[] = [];
    const { scheduler } = isolatedNode({ onLog: (entry) => lines.push(JSON.stringify(entry.message)) });
    let worstLateMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 10);
      last = now;
    }, 10);
    const outcome = await scheduler.run(
      probe('laughs', "let a = ['x']; for (let i = 0; i < 40; i++) a = [a, a]; ctx.log(a); ctx.progress(a); return a;"),
    );
    clearInterval(ticker);
    expect(failure(outcome.reason)).toMatch(/ProtocolViolation: .*far larger than what was sent/);
    expect(lines).toEqual([]);
    // Before the budget the node froze for minutes on this job; a loaded machine may delay a timer a little.
    expect(worstLateMs).toBeLessThan(1000);
  });

  it('refuses frames over the size limit before buffering them', () => {
    const reader = new FrameReader(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(10 * 1024 * 1024);
    expect(() => reader.push(header)).toThrow(FrameTooLargeError);
  });

  it('reassembles frames split across chunks', () => {
    const reader = new FrameReader(1024);
    const bytes = Buffer.concat([encodeFrame({ t: 'ready' }), encodeFrame({ a: [1, 2] })]);
    const values = [...bytes].flatMap((byte) => reader.push(Buffer.from([byte])).map((frame) => frame.value));
    expect(values).toEqual([{ t: 'ready' }, { a: [1, 2] }]);
  });

  it.each([
    ['not an object', 42],
    ['an unknown type', { t: 'become_root', serial: 1 }],
    ['no serial', { t: 'log', level: 'info', message: 'x' }],
    ['a bad log level', { t: 'log', serial: 1, level: 'fatal', message: 'x' }],
    ['a send to a non-pid', { t: 'send', serial: 1, to: { toString: 1 }, message: 1 }],
    ['a link to a name', { t: 'link', serial: 1, pid: 'not a pid' }],
    [
      'a spawn with a bad priority',
      { t: 'spawn', serial: 1, id: 1, fn: 'f', input: 1, options: { priority: 'root' }, relation: 'none' },
    ],
    ['a fetch with a bad url', { t: 'fetch', serial: 1, id: 1, request: { url: 42, method: 'GET', headers: [] } }],
    ['a done without outcome', { t: 'done', serial: 1, reusable: true, dropped: { log: 0, progress: 0 } }],
    [
      'a done with a negative dropped count',
      {
        t: 'done',
        serial: 1,
        outcome: { kind: 'return', value: 1 },
        reusable: true,
        dropped: { log: -5, progress: 0 },
      },
    ],
  ])('refuses a message with %s', (_what, message) => {
    expect(typeof validateFromSandbox(message, 1000)).toBe('string');
  });

  it('accepts the messages the sandbox runtime sends', () => {
    expect(validateFromSandbox({ t: 'ready' }, 10)).toEqual({ t: 'ready' });
    const log = { t: 'log', serial: 3, level: 'warn', message: { any: 'value' } };
    expect(validateFromSandbox(log, 100)).toBe(log);
  });

  it('refuses a value that expands far beyond its size on the wire (shared references), and deep nesting', () => {
    let laughs: unknown = ['x'];
    for (let i = 0; i < 40; i++) laughs = [laughs, laughs];
    const bytes = encodeFrame({ t: 'log', serial: 1, level: 'info', message: laughs }).length;
    expect(bytes).toBeLessThan(1000);
    expect(validateFromSandbox({ t: 'log', serial: 1, level: 'info', message: laughs }, bytes)).toMatch(/far larger/);
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    const sparseBytes = encodeFrame({
      t: 'done',
      serial: 1,
      outcome: { kind: 'return', value: sparse },
      reusable: true,
      dropped: { log: 0, progress: 0 },
    }).length;
    expect(sparseBytes).toBeLessThan(150);
    expect(
      validateFromSandbox(
        {
          t: 'done',
          serial: 1,
          outcome: { kind: 'return', value: sparse },
          reusable: true,
          dropped: { log: 0, progress: 0 },
        },
        sparseBytes,
      ),
    ).toMatch(/far larger/);
    const causing = new Error('outer', { cause: laughs });
    const causingBytes = encodeFrame(causing).length;
    expect(
      validateFromSandbox(
        {
          t: 'fault',
          serial: 1,
          fault: 'uncaught_exception',
          error: { name: 'E', message: 'm', stack: undefined, code: undefined, thrown: causing },
        },
        causingBytes + 100,
      ),
    ).toMatch(/far larger/);
    let deep: unknown = 1;
    for (let i = 0; i < 500; i++) deep = [deep];
    expect(validateFromSandbox({ t: 'progress', serial: 1, value: deep }, 2000)).toMatch(/deeper than/);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(validateFromSandbox({ t: 'send', serial: 1, to: 'n.1', message: cyclic }, 100)).toMatchObject({ t: 'send' });
    const big = { text: 'y'.repeat(1_000_000), list: Array.from({ length: 1000 }, (_, i) => ({ i })) };
    const bigBytes = encodeFrame(big).length;
    expect(validateFromSandbox({ t: 'send', serial: 1, to: 'n.1', message: big }, bigBytes)).toMatchObject({
      t: 'send',
    });
    expect(validateFromSandbox({ t: 'progress', serial: 1, value: big }, bigBytes)).toMatch(
      /progress message of \d+ bytes \(at most 65536\)/,
    );
  });
});
