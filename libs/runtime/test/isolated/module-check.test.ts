import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BadArgError,
  checkFunctionModule,
  functionModule,
  isErrorReason,
  type ModuleCheck,
  type ModuleProblem,
} from '../../src/index.js';
import { codeFrame, isPositionIn, MAX_FRAMED_LINE } from '../../src/isolated/code-frame.js';
import { isolatedNode, until } from './setup.js';

/** The check's verdict, narrowed to a failure (fails the test on `ok: true`). */
async function problemOf(source: string, options?: { timeoutMs?: number; memoryMb?: number }) {
  const check = await checkFunctionModule(source, options);
  if (check.ok) throw new Error(`expected a problem, the check passed:\n${source}`);
  return check;
}

/** Live processes (zombies have no command line) running the check sandbox's entry, anywhere on the host. */
function liveCheckSandboxes(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes('check-entry.js')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const ES_MODULE_HINT = 'Beamline functions are ES modules: use `export default';

describe('checkFunctionModule: a module a job can run', () => {
  it('passes a valid module (ok: true), top-level await, timers and the job runtime included', async () => {
    expect(await checkFunctionModule('export default async (input) => input;')).toEqual({ ok: true });
    const busy = [
      'const table = new Map([[1, "one"]]);',
      'await new Promise((resolve) => setTimeout(resolve, 10));',
      'const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x"));',
      'console.log("loaded", digest.byteLength);',
      'export const version = 1;',
      'export default async function handler(input, ctx) { return table.get(input); }',
    ].join('\n');
    expect(await checkFunctionModule(busy)).toEqual({ ok: true });
  });
});

describe('checkFunctionModule: syntax', () => {
  it('a syntax error: problem syntax with its 1-based line and column and a code frame', async () => {
    const source = 'const a = 1;\nexport default async (x) => {\n  return x +;\n};';
    const check = await problemOf(source);
    expect(check).toMatchObject({ problem: 'syntax', line: 3, column: 13 });
    expect(check.message).toBe("The module does not compile: SyntaxError: Unexpected token ';'.");
    expect(check.frame).toBe(
      [
        '  1 | const a = 1;',
        '  2 | export default async (x) => {',
        '> 3 |   return x +;',
        '    |             ^',
        '  4 | };',
      ].join('\n'),
    );
  });

  it('columns count as V8 counts (UTF-16 code units, a tab is one)', async () => {
    const check = await problemOf('export default () => {\n\tconst s = "é😀"; return s +;\n};');
    expect(check).toMatchObject({ problem: 'syntax', line: 2, column: 29 });
  });

  it('TypeScript: a syntax problem that says to deploy it with `beamline deploy`', async () => {
    const source = 'interface Input { n: number }\nexport default async (input: Input): Promise<number> => input.n;';
    const check = await problemOf(source);
    expect(check).toMatchObject({ problem: 'syntax', line: 1, column: 1 });
    expect(check.message).toContain('deploy TypeScript with `beamline deploy`, which compiles it');
    const annotated = await problemOf('export default async (input: { n: number }) => input.n as number;');
    expect(annotated.message).toContain('deploy TypeScript with `beamline deploy`');
  });

  it('CommonJS (module.exports, require): says functions are ES modules with a default export', async () => {
    const exporting = await problemOf('module.exports = async (input) => input;');
    expect(exporting).toMatchObject({ problem: 'top_level_throw', line: 1, column: 1 });
    expect(exporting.message).toContain('ReferenceError: module is not defined');
    expect(exporting.message).toContain(ES_MODULE_HINT);

    const requiring = await problemOf("const _ = require('lodash');\nmodule.exports = async () => _.noop();");
    expect(requiring).toMatchObject({ problem: 'top_level_throw', line: 1, column: 11 });
    expect(requiring.message).toContain(ES_MODULE_HINT);

    const guarded = await problemOf("if (typeof module === 'object') module.exports = async () => 1;");
    expect(guarded.problem).toBe('no_default_export');
    expect(guarded.message).toContain(ES_MODULE_HINT);

    const returning = await problemOf('return;\nmodule.exports = async () => 1;');
    expect(returning.problem).toBe('syntax');
    expect(returning.message).toContain(ES_MODULE_HINT);
  });

  it('a syntax error on a very long line: bounded, with a frame cut around the column', async () => {
    const filler = `const padding = "${'x'.repeat(200_000)}";`;
    const early = await problemOf(`const a = 1 +;${filler}\nexport default () => 1;`);
    expect(early).toMatchObject({ problem: 'syntax', line: 1, column: 14 });
    expect((early.frame ?? '').length).toBeLessThan(400);

    // Node draws no caret past column 1020: the line is still known.
    const late = await problemOf(`${filler} const a = 1 +;\nexport default () => 1;`);
    expect(late).toMatchObject({ problem: 'syntax', line: 1 });
    expect(late.column).toBeUndefined();
  });
});

describe('checkFunctionModule: exports', () => {
  it('no default export: says so and names what it exports', async () => {
    const check = await problemOf('export const handler = async (input) => input;');
    expect(check.problem).toBe('no_default_export');
    expect(check.message).toContain('no default export');
    expect(check.message).toContain('`export default handler`');
    expect((await problemOf('')).problem).toBe('no_default_export');
  });

  it.each([
    ['a number', 'export default 42;'],
    ['an object', 'export default { run: async () => 1 };'],
    ['null', 'export default null;'],
    ['a class', 'export default class Job { async run() {} }'],
  ])('a default export that is %s: default_not_a_function', async (type, source) => {
    const check = await problemOf(source);
    expect(check.problem).toBe('default_not_a_function');
    expect(check.message).toContain(`default export is ${type}; it must be a function`);
  });
});

describe('checkFunctionModule: imports', () => {
  it.each([
    ['an npm package', 'lodash', "import _ from 'lodash';\nexport default async () => _.noop();", 1, 15],
    ['a relative path', './util.js', 'import { util } from "./util.js";\nexport default util;', 1, 22],
    ['a node: built-in', 'node:fs', "const x = 1;\nimport fs from 'node:fs';\nexport default async () => fs;", 2, 16],
    ['a re-export', 'zod', "export * from 'zod';\nexport default async () => 1;", 1, 15],
  ])(
    'an import of %s: unresolved_import naming it, saying to bundle',
    async (_what, specifier, source, line, column) => {
      const check = await problemOf(source);
      expect(check).toMatchObject({ problem: 'unresolved_import', specifier, line, column });
      expect(check.message).toContain(`"${specifier}"`);
      expect(check.message).toContain('one self-contained module');
      expect(check.message).toContain('Bundle its dependencies with `beamline deploy`');
    },
  );

  it('names every static import, and the first one as the specifier', async () => {
    const check = await problemOf("import a from 'a';\nimport b from './b.js';\nexport default async () => a + b;");
    expect(check.specifier).toBe('a');
    expect(check.message).toContain('(it also imports "./b.js")');
  });

  it('a dynamic import() run by top-level code: unresolved_import', async () => {
    const check = await problemOf("const { z } = await import('zod');\nexport default async () => z;");
    expect(check).toMatchObject({ problem: 'unresolved_import', specifier: 'zod', line: 1, column: 28 });
  });
});

describe('checkFunctionModule: top-level code', () => {
  it('top-level code that throws: top_level_throw with its message and where', async () => {
    const check = await problemOf("const config = JSON.parse('{');\nexport default async () => config;");
    expect(check).toMatchObject({ problem: 'top_level_throw', line: 1, column: 21 });
    expect(check.message).toContain('threw SyntaxError: Expected property name');
    expect(check.frame).toContain("> 1 | const config = JSON.parse('{');");
  });

  it("a promise rejected at the top level that nobody handles, and Node's globals: top_level_throw", async () => {
    const rejected = await problemOf("Promise.reject(new Error('later'));\nexport default async () => 1;");
    expect(rejected.problem).toBe('top_level_throw');
    expect(rejected.message).toContain('left a promise rejected with Error: later');

    const nodeGlobal = await problemOf('const url = process.env.URL;\nexport default async () => url;');
    expect(nodeGlobal.problem).toBe('top_level_throw');
    expect(nodeGlobal.message).toContain("Job code runs without Node's globals");
  });

  it('top-level fetch does not reach the network at deploy: top_level_throw that says to move it', async () => {
    const check = await problemOf("const page = await fetch('http://127.0.0.1:1/');\nexport default async () => 1;");
    expect(check.problem).toBe('top_level_throw');
    expect(check.message).toContain('Move the fetch into the function');
  });

  it('top-level code that loops forever: top_level_timeout once timeoutMs has passed, the sandbox killed', async () => {
    const started = performance.now();
    const check = await problemOf('for (;;) {}\nexport default async () => 1;', { timeoutMs: 300 });
    expect(check.problem).toBe('top_level_timeout');
    expect(check.message).toContain('did not finish within 300 ms');
    expect(performance.now() - started).toBeLessThan(3000);
    const waiting = await problemOf('await new Promise(() => {});\nexport default 1;', { timeoutMs: 300 });
    expect(waiting.problem).toBe('top_level_timeout');
  });

  it('top-level code over the heap limit, or holding array buffers beyond memoryMb: top_level_memory', async () => {
    const heap = await problemOf(
      'const kept = [];\nfor (;;) kept.push({ at: Math.random(), pad: new Array(64).fill(0) });\nexport default 1;',
      { memoryMb: 32 },
    );
    expect(heap.problem).toBe('top_level_memory');
    expect(heap.message).toContain('32 MB');

    const buffers = await problemOf(
      'const kept = [];\nfor (let i = 0; i < 64; i++) kept.push(new Uint8Array(8 * 1024 * 1024).fill(1));\nexport default 1;',
      { memoryMb: 32 },
    );
    expect(buffers.problem).toBe('top_level_memory');

    const huge = await problemOf('const big = new ArrayBuffer(2 ** 34);\nexport default 1;', { memoryMb: 32 });
    expect(huge.problem).toBe('top_level_memory');
  });
});

describe('checkFunctionModule: against hostile source', () => {
  it("the check's sandbox is gone once the check settles (not even a zombie), a killed one included", async () => {
    expect(liveCheckSandboxes()).toEqual([]);
    const looping = checkFunctionModule('for (;;) {}', { timeoutMs: 1000 });
    // The wrapper commands and the sandbox's Node process (both name the entry on their command line).
    await until(() => liveCheckSandboxes().length >= 2);
    const seen = liveCheckSandboxes();
    expect((await looping).ok).toBe(false);
    expect(seen.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
    expect(liveCheckSandboxes()).toEqual([]);
    await checkFunctionModule('export default async () => 1;');
    await checkFunctionModule('export default async () => {');
    await checkFunctionModule('const kept = []; for (;;) kept.push(new Array(64).fill(0));', { memoryMb: 32 });
    expect(liveCheckSandboxes()).toEqual([]);
  });

  it('output it controls is bounded: a huge error message, and a thrown value whose getters throw', async () => {
    const long = await problemOf("throw new Error('x'.repeat(5_000_000));");
    expect(long.problem).toBe('top_level_throw');
    expect(long.message.length).toBeLessThan(1500);

    const nasty = await problemOf(
      "throw { get name() { throw new Error('no'); }, get message() { for (;;) {} } };\nexport default 1;",
      { timeoutMs: 500 },
    );
    expect(nasty.problem).toBe('top_level_timeout');

    const stray = await problemOf(
      "Object.defineProperty(Object.prototype, 'then', { get() { throw new Error('poisoned'); } });\nexport default async () => 1;",
    );
    expect(stray.problem).toMatch(/^top_level_/);
  });

  it('checks run side by side, each in its own sandbox', async () => {
    const sources: Array<[string, ModuleProblem | 'ok']> = [
      ['export default async () => 1;', 'ok'],
      ['export default 1;', 'default_not_a_function'],
      ["import 'x';", 'unresolved_import'],
      ['export default () => {', 'syntax'],
      ["throw new Error('boom');", 'top_level_throw'],
      ['export const a = 1;', 'no_default_export'],
    ];
    const checks = await Promise.all(sources.map(([source]) => checkFunctionModule(source)));
    expect(checks.map((check) => (check.ok ? 'ok' : check.problem))).toEqual(sources.map(([, expected]) => expected));
  });

  it('refuses bad options with BadArgError', async () => {
    await expect(checkFunctionModule('export default 1;', { memoryMb: 4 })).rejects.toBeInstanceOf(BadArgError);
    await expect(checkFunctionModule('export default 1;', { timeoutMs: -1 })).rejects.toBeInstanceOf(BadArgError);
    await expect(checkFunctionModule(42 as unknown as string)).rejects.toBeInstanceOf(BadArgError);
  });
});

describe('checkFunctionModule agrees with the runtime', () => {
  const catalogue: Array<[string, string]> = [
    ['valid', 'export default async (input) => ({ got: input });'],
    ['valid, with top-level await and timers', 'await new Promise((r) => setTimeout(r, 5));\nexport default (x) => x;'],
    ['syntax error', 'export default async (x) => { return x +; };'],
    ['TypeScript', 'export default async (input: number): Promise<number> => input;'],
    ['CommonJS', 'module.exports = async (input) => input;'],
    ['no default export', 'export const handler = async (input) => input;'],
    ['default not a function', 'export default { handler: async () => 1 };'],
    ['npm import', "import _ from 'lodash';\nexport default async () => 1;"],
    ['node: import', "import fs from 'node:fs';\nexport default async () => 1;"],
    ['top-level throw', "throw new TypeError('bad config');\nexport default async () => 1;"],
    ['Node global at the top level', 'const env = process.env;\nexport default async () => env;'],
  ];

  it.each(catalogue)('%s: the check passes exactly when a job runs it to a normal end', async (_name, source) => {
    const { scheduler } = isolatedNode();
    const [check, run] = await Promise.all([
      checkFunctionModule(source),
      scheduler.run(functionModule(source, 'agreement'), 7, { timeoutMs: 5000 }),
    ]);
    expect(check.ok).toBe(run.reason === 'normal');
    if (!check.ok) expect(isErrorReason(run.reason)).toBe(true);
  });
});

describe('codeFrame', () => {
  it('frames no line past MAX_FRAMED_LINE, so a source of millions of lines costs the caller no scan', async () => {
    const source = `export default async () => 1;${'\n'.repeat(5_000_000)})`;
    expect(codeFrame(source, 5_000_001, 1)).toBeUndefined();
    expect(isPositionIn(source, 5_000_001, 1)).toBe(false);
    const near = `${'\n'.repeat(MAX_FRAMED_LINE - 1)}const x = ;`;
    expect(codeFrame(near, MAX_FRAMED_LINE, 11)).toContain('> 50000 | const x = ;');
    const checked = await checkFunctionModule(source);
    expect(checked).toMatchObject({ ok: false, problem: 'syntax' });
    expect(checked).not.toHaveProperty('frame');
  }, 60_000);

  it('shows two lines either side, the line marked and a caret under the column', () => {
    const source = ['one', 'two', 'three', 'four', 'five', 'six'].join('\n');
    expect(codeFrame(source, 4, 2)).toBe(
      ['  2 | two', '  3 | three', '> 4 | four', '    |  ^', '  5 | five', '  6 | six'].join('\n'),
    );
    expect(codeFrame(source, 1)).toBe(['> 1 | one', '  2 | two', '  3 | three'].join('\n'));
    expect(codeFrame(source, 7)).toBeUndefined();
  });

  it('splits lines where JavaScript does (CRLF, CR, U+2028) and widens the gutter for line 10', () => {
    expect(codeFrame('a\r\nb\rc\u2028d', 3, 1)).toBe(
      ['  1 | a', '  2 | b', '> 3 | c', '    | ^', '  4 | d'].join('\n'),
    );
    const ten = Array.from({ length: 11 }, (_, i) => `line ${i + 1}`).join('\n');
    expect(codeFrame(ten, 10, 1)?.split('\n')[2]).toBe('> 10 | line 10');
  });

  it('cuts a long line to a window around the column', () => {
    const line = `${'a'.repeat(5000)}!${'b'.repeat(5000)}`;
    const frame = codeFrame(line, 1, 5001) as string;
    const [shown, caret] = frame.split('\n') as [string, string];
    expect(shown.length).toBeLessThan(140);
    expect(shown[caret.indexOf('^')]).toBe('!');
  });
});

describe('ModuleCheck', () => {
  it('is a plain, JSON-ready value', async () => {
    const check: ModuleCheck = await checkFunctionModule('export default () => {');
    expect(JSON.parse(JSON.stringify(check))).toEqual(check);
  });
});
