import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { BadArgError } from '../errors.js';
import {
  CHECK_MODULE_IDENTIFIER,
  type CheckVerdict,
  MAX_CHECK_FRAME_BYTES,
  type SourceDialect,
  validateFromCheck,
} from './check-protocol.js';
import { codeFrame, isPositionIn } from './code-frame.js';
import { encodeFrame, FrameReader } from './frames.js';
import { assertLimits } from './limits.js';
import { childrenOf, ProcessClock } from './os-process.js';
import { sandboxCommand, sandboxHost } from './sandbox-command.js';

/**
 * The deploy-time check of a function module: one short-lived sandbox, confined exactly like a
 * job's (sandbox-command.ts), compiles, links and evaluates the module with the job sandbox's own
 * loader, and reports why a job could not run it. The module's code never runs in the caller's
 * process, and nothing it does can make the check throw: the check's sandbox is killed when it
 * runs over its time or memory, or breaks the check's protocol, and is gone when the check
 * settles.
 */

export const MODULE_PROBLEMS = [
  'syntax',
  'no_default_export',
  'default_not_a_function',
  'unresolved_import',
  'top_level_throw',
  'top_level_timeout',
  'top_level_memory',
] as const;

export type ModuleProblem = (typeof MODULE_PROBLEMS)[number];

export type ModuleCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly problem: ModuleProblem;
      /** What is wrong and what to do about it, for the person who deploys. */
      readonly message: string;
      /** 1-based line of the problem in the source, when known. */
      readonly line?: number;
      /** 1-based column (UTF-16 code units, as V8 counts), when known. */
      readonly column?: number;
      /** The source around `line`, with a caret under `column`. */
      readonly frame?: string;
      /** For `unresolved_import`: what the module imports. */
      readonly specifier?: string;
    };

export interface ModuleCheckOptions {
  /** Wall-clock time the module's top-level code may take to load. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Memory in megabytes the module's top-level code may use, as for a job (`ProcessLimits.memoryMb`). Default 256. */
  readonly memoryMb?: number;
}

/** A check sandbox could not be started: the check says nothing about the module. */
export class ModuleCheckUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleCheckUnavailableError';
  }
}

export const DEFAULT_CHECK_TIMEOUT_MS = 2000;
/** The worker's default memory limit of a run (DEFAULT_JOB_MEMORY_MB). */
export const DEFAULT_CHECK_MEMORY_MB = 256;
const START_TIMEOUT_MS = 10_000;
/** After a syntax verdict, how long the sandbox has to say where the error is before it is killed. */
const SYNTAX_REPORT_MS = 3000;
/** A sandbox told to die that still has not after this long is killed through its wrapper too. */
const KILL_GRACE_MS = 500;
const MEMORY_SAMPLE_MS = 20;
const MIB = 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;
const OUT_OF_MEMORY =
  /heap out of memory|Reached heap limit|Allocation failed|Fatal JavaScript out of memory|Ineffective mark-compacts|invalid table size|invalid array length/i;

const ES_MODULE_HINT = 'Beamline functions are ES modules: use `export default async (input, ctx) => result`';
const BUNDLE_HINT =
  'A function is one self-contained module: nothing can be imported when it runs (no npm packages, files or node: built-ins). Bundle its dependencies with `beamline deploy`';
const DIALECT_HINTS: Record<SourceDialect, string> = {
  typescript: 'This looks like TypeScript: deploy TypeScript with `beamline deploy`, which compiles it.',
  commonjs: `This looks like CommonJS (\`require\`, \`module.exports\`). ${ES_MODULE_HINT}, and bundle dependencies with \`beamline deploy\`.`,
  node_global:
    "Job code runs without Node's globals (process, require, setImmediate…): use the job runtime (fetch, crypto, URL, TextEncoder, timers, ctx).",
  top_level_fetch: 'Move the fetch into the function: it can run when a job runs, not when the module is deployed.',
};

/** Where the check sandbox is: beside this module once built; under dist when run from source. */
function checkEntry(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/isolated/check-entry.js', here) : new URL('./check-entry.js', here);
}

/**
 * Checks that `source` is a function module a job can run: it compiles as an ES module, imports
 * nothing, its top-level code finishes within `timeoutMs` and `memoryMb` without throwing, and
 * its default export is a function. Resolves with the first problem found; rejects only with
 * BadArgError (bad options) or ModuleCheckUnavailableError (no sandbox could be started).
 */
export async function checkFunctionModule(source: string, options: ModuleCheckOptions = {}): Promise<ModuleCheck> {
  if (typeof source !== 'string') throw new BadArgError('checkFunctionModule needs the module source as a string.');
  assertLimits(options, 'options');
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const memoryMb = options.memoryMb ?? DEFAULT_CHECK_MEMORY_MB;
  const verdict = await new CheckSandbox(source, timeoutMs, memoryMb).run();
  return describe(source, verdict, timeoutMs, memoryMb);
}

/** What the sandbox found, or what the node saw happen to it. */
type Outcome =
  | { readonly kind: 'verdict'; readonly verdict: CheckVerdict; readonly line?: number; readonly column?: number }
  | { readonly kind: 'syntax_position_unknown'; readonly verdict: CheckVerdict }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'memory' }
  | { readonly kind: 'crashed'; readonly why: string };

/**
 * Reads, from a sandbox's stderr as it streams, the location Node prints above an uncaught
 * SyntaxError: `<identifier>:<line>`, the source line, then a caret line (a space or tab per
 * column before the caret). Keeps nothing but a short header, however long the source line is.
 * Node draws no caret past column 1020: then only the line is known.
 */
class SyntaxLocationReader {
  line: number | undefined;
  column: number | undefined;
  private stage: 'header' | 'source' | 'caret' | 'done' = 'header';
  private header = '';
  private indent = 0;

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.stage !== 'done') {
      if (this.stage === 'source') {
        const end = chunk.indexOf(10, at);
        if (end === -1) return;
        at = end + 1;
        this.stage = 'caret';
        continue;
      }
      const byte = chunk[at++] as number;
      if (this.stage === 'header') this.readHeader(byte);
      else this.readCaret(byte);
    }
  }

  private readHeader(byte: number): void {
    if (byte !== 10) {
      this.header += String.fromCharCode(byte);
      if (this.header.length > 256) this.stage = 'done';
      return;
    }
    const line = new RegExp(`^${CHECK_MODULE_IDENTIFIER}:(\\d+)$`).exec(this.header)?.[1];
    this.line = line === undefined ? undefined : Number(line);
    this.stage = line === undefined ? 'done' : 'source';
  }

  private readCaret(byte: number): void {
    if (byte === 32 || byte === 9) {
      this.indent++;
      return;
    }
    if (byte === 94) this.column = this.indent + 1;
    this.stage = 'done';
  }
}

/** One check: a sandbox started, handed the source once it is ready, read, and killed. */
class CheckSandbox {
  private child: ChildProcess | undefined;
  private channel: Duplex | undefined;
  private readonly reader = new FrameReader(MAX_CHECK_FRAME_BYTES);
  private readonly location = new SyntaxLocationReader();
  private stage: 'starting' | 'checking' | 'locating' | 'over' = 'starting';
  private stderrTail = '';
  private innerPid: number | undefined;
  private clock: ProcessClock | undefined;
  private baselineBytes = 0;
  private syntaxVerdict: CheckVerdict | undefined;
  private dialect: SourceDialect | undefined;
  private outcome: Outcome | undefined;
  private failure: Error | undefined;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private memoryWatch: ReturnType<typeof setInterval> | undefined;
  private resolveExit: (() => void) | undefined;
  private exited = false;

  constructor(
    private readonly source: string,
    private readonly timeoutMs: number,
    private readonly memoryMb: number,
  ) {}

  async run(): Promise<Outcome & { dialect?: SourceDialect }> {
    const exit = new Promise<void>((resolve) => {
      this.resolveExit = resolve;
    });
    try {
      this.start();
    } catch (error) {
      throw new ModuleCheckUnavailableError(`The check sandbox could not be started: ${messageOf(error)}`);
    }
    await exit;
    this.cleanUp();
    if (this.failure) throw this.failure;
    const outcome = this.outcome ?? { kind: 'crashed', why: 'the check sandbox ended without a verdict' };
    return this.dialect === undefined ? outcome : { ...outcome, dialect: this.dialect };
  }

  private start(): void {
    const { command, args } = sandboxCommand(sandboxHost(), checkEntry(), this.memoryMb);
    const child = spawn(command, args, { env: {}, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], cwd: '/' });
    this.child = child;
    this.channel = child.stdio[3] as Duplex;
    // 'close', not 'exit': stderr must have been read to its end (the syntax error's caret line).
    child.on('close', (code, signal) => this.exitedWith(code, signal));
    child.on('error', (error) => {
      this.fail(new ModuleCheckUnavailableError(`The check sandbox could not be started: ${error.message}`));
      this.markExited();
    });
    child.stderr?.on('data', (chunk: Buffer) => this.readStderr(chunk));
    this.channel.on('data', (chunk: Buffer) => this.receive(chunk));
    this.channel.on('error', () => undefined);
    this.after(START_TIMEOUT_MS, () => {
      if (this.stage === 'starting') {
        this.fail(new ModuleCheckUnavailableError(`The check sandbox did not start within ${START_TIMEOUT_MS} ms.`));
      }
    });
  }

  private after(ms: number, then: () => void): void {
    this.timers.push(setTimeout(then, ms));
  }

  private readStderr(chunk: Buffer): void {
    this.stderrTail = (this.stderrTail + chunk.subarray(-STDERR_TAIL_BYTES).toString('latin1')).slice(
      -STDERR_TAIL_BYTES,
    );
    this.location.push(chunk);
  }

  private receive(chunk: Buffer): void {
    if (this.stage === 'over') return;
    let values: unknown[];
    try {
      values = this.reader.push(chunk).map((frame) => frame.value);
    } catch {
      this.broke('bytes that are not a message');
      return;
    }
    for (const value of values) {
      if (this.over) return;
      const message = validateFromCheck(value);
      if (typeof message === 'string') {
        this.broke(message);
        return;
      }
      if (message.t === 'ready' && this.stage === 'starting') this.ready();
      else if (message.t === 'checked' && this.stage === 'checking') this.checked(message.verdict);
      else if (message.t === 'dialect' && this.stage === 'locating') this.dialect = message.dialect;
      else this.broke(`an unexpected ${message.t} message`);
    }
  }

  private get over(): boolean {
    return this.stage === 'over';
  }

  private ready(): void {
    this.stage = 'checking';
    const wrapper = this.child?.pid;
    const children = wrapper === undefined ? [] : childrenOf(wrapper);
    this.innerPid = children.length === 1 ? children[0] : wrapper;
    if (this.innerPid !== undefined) {
      this.clock = new ProcessClock(this.innerPid);
      this.baselineBytes = this.clock.residentBytes() ?? 0;
    }
    this.channel?.write(encodeFrame({ t: 'check', source: this.source }));
    this.after(this.timeoutMs, () => {
      if (this.stage === 'checking') this.end({ kind: 'timeout' });
    });
    this.memoryWatch = setInterval(() => this.watchMemory(), MEMORY_SAMPLE_MS);
  }

  private watchMemory(): void {
    if (this.stage !== 'checking') return;
    const resident = this.clock?.residentBytes();
    if (resident !== undefined && resident - this.baselineBytes > this.memoryMb * MIB) this.end({ kind: 'memory' });
  }

  private checked(verdict: CheckVerdict): void {
    if (verdict.kind !== 'syntax') {
      this.end({ kind: 'verdict', verdict });
      return;
    }
    // The sandbox now prints where the error is and dies of it; the verdict stands whatever happens next.
    this.stage = 'locating';
    this.syntaxVerdict = verdict;
    this.outcome = { kind: 'syntax_position_unknown', verdict };
    this.after(SYNTAX_REPORT_MS, () => this.kill());
  }

  private exitedWith(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stage === 'starting' && !this.failure) {
      const lastLine = this.stderrTail.trim().split('\n').at(-1) ?? '';
      this.fail(
        new ModuleCheckUnavailableError(
          `The check sandbox failed to start (${signal ?? `exit ${code}`})${lastLine ? `: ${lastLine}` : ''}.`,
        ),
      );
    } else if (this.stage === 'checking') {
      const outOfMemory = OUT_OF_MEMORY.test(this.stderrTail) || signal === 'SIGSEGV' || signal === 'SIGBUS';
      this.outcome = outOfMemory
        ? { kind: 'memory' }
        : { kind: 'crashed', why: `its sandbox ended (${signal ?? `exit ${code}`}) before the check could finish` };
    } else if (this.stage === 'locating' && this.syntaxVerdict) {
      const { line, column } = this.location;
      if (line !== undefined) {
        this.outcome = {
          kind: 'verdict',
          verdict: this.syntaxVerdict,
          line,
          ...(column === undefined ? {} : { column }),
        };
      }
    }
    this.stage = 'over';
    this.markExited();
  }

  private markExited(): void {
    if (this.exited) return;
    this.exited = true;
    this.resolveExit?.();
  }

  private broke(why: string): void {
    this.end({ kind: 'crashed', why: `it broke the check's protocol (${why})` });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.stage = 'over';
    this.kill();
  }

  private end(outcome: Outcome): void {
    if (this.stage === 'over') return;
    this.outcome = outcome;
    this.stage = 'over';
    this.kill();
  }

  /**
   * Kills the sandbox's Node process first, so that its wrapper (`unshare --fork`) reaps it and
   * exits: nothing is left, not even a zombie. The wrapper is killed too if it lingers.
   */
  private kill(): void {
    const wrapper = this.child;
    if (!wrapper || this.exited) return;
    if (this.innerPid !== undefined && this.innerPid !== wrapper.pid) {
      try {
        process.kill(this.innerPid, 'SIGKILL');
      } catch {
        // already gone
      }
      this.after(KILL_GRACE_MS, () => wrapper.kill('SIGKILL'));
    } else {
      wrapper.kill('SIGKILL');
    }
  }

  private cleanUp(): void {
    for (const timer of this.timers) clearTimeout(timer);
    clearInterval(this.memoryWatch);
    this.clock?.close();
    this.channel?.destroy();
    this.child?.stderr?.destroy();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Text from the sandbox, made safe to show: no control characters but newlines and tabs. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

/** The text as a sentence, followed by the hint for the dialect. */
function withHint(text: string, dialect: SourceDialect | undefined): string {
  const sentence = /[.!?]$/.test(text) ? text : `${text}.`;
  return dialect === undefined ? sentence : `${sentence} ${DIALECT_HINTS[dialect]}`;
}

function problem(
  source: string,
  kind: ModuleProblem,
  message: string,
  position: { line?: number | undefined; column?: number | undefined } = {},
  specifier?: string,
): ModuleCheck {
  const { line } = position;
  const known = line !== undefined && isPositionIn(source, line, position.column);
  const column = known ? position.column : undefined;
  const frame = known ? codeFrame(source, line, column) : undefined;
  return {
    ok: false,
    problem: kind,
    message,
    ...(known ? { line } : {}),
    ...(column === undefined ? {} : { column }),
    ...(frame === undefined ? {} : { frame }),
    ...(specifier === undefined ? {} : { specifier }),
  };
}

function describe(
  source: string,
  outcome: Outcome & { dialect?: SourceDialect },
  timeoutMs: number,
  memoryMb: number,
): ModuleCheck {
  switch (outcome.kind) {
    case 'timeout':
      return problem(
        source,
        'top_level_timeout',
        `The module's top-level code did not finish within ${timeoutMs} ms (an endless loop, or a top-level await that never settles), and was stopped. Do the work inside the function.`,
      );
    case 'memory':
      return problem(
        source,
        'top_level_memory',
        `The module's top-level code used more than the ${memoryMb} MB of memory a job may use, and was stopped.`,
      );
    case 'crashed':
      return problem(source, 'top_level_throw', `The module's top-level code could not be checked: ${outcome.why}.`);
    case 'syntax_position_unknown':
    case 'verdict':
      return describeVerdict(source, outcome, memoryMb);
  }
}

function describeVerdict(
  source: string,
  outcome: { verdict: CheckVerdict; line?: number; column?: number; dialect?: SourceDialect },
  memoryMb: number,
): ModuleCheck {
  const { verdict } = outcome;
  switch (verdict.kind) {
    case 'ok':
      return { ok: true };
    case 'syntax':
      return problem(
        source,
        'syntax',
        withHint(
          `The module does not compile: ${printable(verdict.name)}: ${printable(verdict.message)}`,
          outcome.dialect,
        ),
        outcome,
      );
    case 'unresolved_import': {
      const specifier = printable(verdict.specifier);
      const others = verdict.specifiers.filter((s) => s !== verdict.specifier).map((s) => `"${printable(s)}"`);
      const also = others.length > 0 ? ` (it also imports ${others.join(', ')})` : '';
      const how = verdict.dynamic ? "module's top-level code imports" : 'module imports';
      return problem(
        source,
        'unresolved_import',
        `The ${how} "${specifier}"${also}. ${BUNDLE_HINT}.`,
        verdict,
        specifier,
      );
    }
    case 'no_default_export': {
      const names = verdict.exportNames.map((name) => `\`${printable(name)}\``);
      const exported =
        names.length > 0
          ? ` It exports ${names.join(', ')}: make the function the default export (\`export default ${printable(verdict.exportNames[0] as string)}\`).`
          : '';
      return problem(
        source,
        'no_default_export',
        withHint(
          `The module has no default export. A function's default export is \`async (input, ctx) => result\`.${exported}`,
          verdict.dialect,
        ),
      );
    }
    case 'default_not_a_function':
      return problem(
        source,
        'default_not_a_function',
        `The module's default export is ${article(printable(verdict.defaultType))}; it must be a function \`async (input, ctx) => result\`.`,
      );
    case 'top_level_throw': {
      const how = verdict.via === 'unhandled_rejection' ? 'left a promise rejected with' : 'threw';
      return problem(
        source,
        'top_level_throw',
        withHint(
          `The module's top-level code ${how} ${printable(verdict.name)}: ${printable(verdict.message)}`,
          verdict.dialect,
        ),
        verdict,
      );
    }
    case 'top_level_memory':
      return problem(
        source,
        'top_level_memory',
        `The module's top-level code used more than the ${memoryMb} MB of memory a job may use (${printable(verdict.message)}).`,
      );
  }
}

function article(type: string): string {
  if (type.startsWith('a ') || type.startsWith('an ') || type === 'null' || type === 'undefined') return type;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
