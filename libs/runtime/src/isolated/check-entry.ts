import nodeModule from 'node:module';
import net from 'node:net';
import process from 'node:process';
import { setImmediate } from 'node:timers';
import vm from 'node:vm';
import {
  CHECK_MODULE_IDENTIFIER,
  type CheckVerdict,
  type FromCheck,
  MAX_CHECK_TEXT,
  MAX_EXPORT_NAMES,
  type SourceDialect,
} from './check-protocol.js';
import { encodeFrame, FrameReader } from './frames.js';
import { confineGlobals, JobTimers } from './job-runtime.js';
import { compileFunctionModule, ImportRefused, linkFunctionModule } from './module-loader.js';

/**
 * The entry point of a check sandbox: started (confined exactly like a job's sandbox) to load one
 * function module at deploy time, report what it found on fd 3, and be killed. It compiles and
 * links the module with the job sandbox's own loader (module-loader.ts) and evaluates it under
 * the job runtime's globals; it never calls the default export. Never imported by the node.
 */

const MAX_INBOUND_FRAME_BYTES = 64 * 1024 * 1024;
const EXIT_CANNOT_REPORT = 70;
const MAX_TYPESCRIPT_PROBE_CHARS = 1024 * 1024;
const COMMONJS_NAMES = new Set(['require', 'module', 'exports', '__dirname', '__filename']);
const COMMONJS_SOURCE = /\bmodule\.exports\b|\bexports\.[A-Za-z_$][\w$]*\s*=|\brequire\s*\(/;
const FRAME_IN_MODULE = new RegExp(`${CHECK_MODULE_IDENTIFIER}:(\\d+):(\\d+)`);
const ARRAY_BUFFER_ALLOCATION_FAILED = /^Array buffer allocation failed$/;

const socket = new net.Socket({ fd: 3, readable: true, writable: true });
const reader = new FrameReader(MAX_INBOUND_FRAME_BYTES);
// Captured before the module runs: its top-level code may replace what the globals hold.
const functionToString = Function.prototype.toString;
let checking = false;

function post(message: FromCheck, then?: () => void): void {
  socket.write(encodeFrame(message), then);
}

const clip = (text: string): string => (text.length > MAX_CHECK_TEXT ? `${text.slice(0, MAX_CHECK_TEXT - 1)}…` : text);

/** Reads a property of a thrown value, which may be anything (a getter that throws included). */
function read(value: unknown, key: 'name' | 'message' | 'stack'): string | undefined {
  try {
    const field = (value as Record<string, unknown>)[key];
    return typeof field === 'string' ? field : undefined;
  } catch {
    return undefined;
  }
}

function describeThrown(thrown: unknown): { name: string; message: string; stack: string | undefined } {
  if (typeof thrown === 'object' && thrown !== null) {
    return {
      name: clip(read(thrown, 'name') ?? 'Error'),
      message: clip(read(thrown, 'message') ?? ''),
      stack: read(thrown, 'stack'),
    };
  }
  let text: string;
  try {
    text = String(thrown);
  } catch {
    text = typeof thrown;
  }
  return { name: `a ${typeof thrown}`, message: clip(text), stack: undefined };
}

/** Where in the module a stack trace puts the throw: its first frame in the module. */
function positionInStack(stack: string | undefined): { line: number | undefined; column: number | undefined } {
  const frame = stack === undefined ? null : FRAME_IN_MODULE.exec(stack.slice(0, 10_000));
  return frame ? { line: Number(frame[1]), column: Number(frame[2]) } : { line: undefined, column: undefined };
}

/** Where the source names a specifier after `from` or `import`, 1-based; undefined when not found as written. */
function positionOfSpecifier(
  source: string,
  specifier: string,
): { line: number | undefined; column: number | undefined } {
  const literal = specifier.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`(?:\\bfrom|\\bimport)\\s*\\(?\\s*(['"\`])${literal}\\1`).exec(source);
  if (!match) return { line: undefined, column: undefined };
  const offset = match.index + match[0].length - specifier.length - 2;
  const before = source.slice(0, offset);
  const lineStart = Math.max(...['\n', '\r', '\u2028', '\u2029'].map((terminator) => before.lastIndexOf(terminator)));
  return { line: (before.match(/\r\n|[\n\r\u2028\u2029]/g)?.length ?? 0) + 1, column: offset - lineStart };
}

/** Node's type stripper (Node 22.13+; not in the @types/node this package builds against). */
const stripTypeScriptTypes = (
  nodeModule as unknown as { stripTypeScriptTypes?: (code: string, options: { mode: 'transform' }) => string }
).stripTypeScriptTypes;

function parsesAsTypeScript(source: string): boolean {
  // Hand-written TypeScript is what needs the hint; stripping a large bundle would only delay the verdict's position.
  if (stripTypeScriptTypes === undefined || source.length > MAX_TYPESCRIPT_PROBE_CHARS) return false;
  try {
    const javascript = stripTypeScriptTypes(source, { mode: 'transform' });
    new vm.SourceTextModule(javascript, { identifier: 'beamline-function:typescript' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Node opens stderr non-blocking, so its report of an uncaught error would stop where the pipe
 * fills (64 KiB): the node could not read the caret line under a long source line. Blocking
 * writes wait for the node to read instead (the same call as the `set-blocking` package).
 */
function blockStderr(): void {
  try {
    (process.stderr as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle?.setBlocking?.(true);
  } catch {
    // then a caret past 64 KiB of output is lost, and only the line is known
  }
}

/**
 * A module that does not compile: the verdict first (so the node has it whatever happens next),
 * then what the source seems to be, then the SyntaxError thrown uncaught, so that Node prints
 * its caret line to stderr, where the node reads the line and column (V8 gives no other way).
 */
function reportSyntaxError(source: string, error: unknown): void {
  const { name, message } = describeThrown(error);
  post({ t: 'checked', verdict: { kind: 'syntax', name, message } });
  const dialect = parsesAsTypeScript(source) ? 'typescript' : COMMONJS_SOURCE.test(source) ? 'commonjs' : undefined;
  const fail = () => {
    blockStderr();
    setImmediate(() => {
      throw error;
    });
  };
  if (dialect) post({ t: 'dialect', dialect }, fail);
  else fail();
}

function dialectOfThrow(thrown: unknown, name: string, message: string): SourceDialect | undefined {
  if (typeof thrown === 'object' && thrown !== null && refusedFetches.has(thrown)) return 'top_level_fetch';
  if (name !== 'ReferenceError') return undefined;
  const missing = /^(\S+) is not defined$/.exec(message)?.[1];
  if (missing === undefined) return undefined;
  if (COMMONJS_NAMES.has(missing)) return 'commonjs';
  return removedGlobals.has(missing) ? 'node_global' : undefined;
}

function typeOfDefault(exported: unknown): string | undefined {
  if (exported === null) return 'null';
  if (Array.isArray(exported)) return 'an array';
  if (typeof exported === 'function') {
    return /^class\b/.test(functionToString.call(exported)) ? 'a class' : undefined;
  }
  return typeof exported;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function check(source: string): Promise<CheckVerdict | undefined> {
  let module: vm.SourceTextModule;
  try {
    module = compileFunctionModule(source, CHECK_MODULE_IDENTIFIER);
  } catch (error) {
    reportSyntaxError(source, error);
    return undefined;
  }
  try {
    await linkFunctionModule(module);
  } catch (error) {
    const requests =
      (module as unknown as { moduleRequests?: ReadonlyArray<{ specifier: string }> }).moduleRequests ?? [];
    const specifier = error instanceof ImportRefused ? error.specifier : (requests[0]?.specifier ?? '');
    const specifiers = requests.slice(0, MAX_EXPORT_NAMES).map((request) => clip(request.specifier));
    return {
      kind: 'unresolved_import',
      specifier: clip(specifier),
      specifiers,
      dynamic: false,
      ...positionOfSpecifier(source, specifier),
    };
  }
  const escaped: Array<{ via: 'uncaught_exception' | 'unhandled_rejection'; thrown: unknown }> = [];
  process.on('uncaughtException', (thrown) => escaped.push({ via: 'uncaught_exception', thrown }));
  process.on('unhandledRejection', (thrown) => escaped.push({ via: 'unhandled_rejection', thrown }));
  let thrown: { via: 'evaluation' | 'uncaught_exception' | 'unhandled_rejection'; thrown: unknown } | undefined;
  try {
    await module.evaluate();
  } catch (error) {
    thrown = { via: 'evaluation', thrown: error };
  }
  // Rejections nobody handled are reported once the microtasks have run.
  await nextTurn();
  thrown ??= escaped[0];
  if (thrown) {
    if (thrown.thrown instanceof ImportRefused) {
      const { specifier } = thrown.thrown;
      return {
        kind: 'unresolved_import',
        specifier: clip(specifier),
        specifiers: [],
        dynamic: true,
        ...positionOfSpecifier(source, specifier),
      };
    }
    const { name, message, stack } = describeThrown(thrown.thrown);
    if (name === 'RangeError' && ARRAY_BUFFER_ALLOCATION_FAILED.test(message)) {
      return { kind: 'top_level_memory', message };
    }
    return {
      kind: 'top_level_throw',
      name,
      message,
      via: thrown.via,
      dialect: dialectOfThrow(thrown.thrown, name, message),
      ...positionInStack(stack),
    };
  }
  const namespace = module.namespace as Record<string, unknown>;
  if (!('default' in namespace)) {
    return {
      kind: 'no_default_export',
      exportNames: Object.keys(namespace).slice(0, MAX_EXPORT_NAMES).map(clip),
      dialect: COMMONJS_SOURCE.test(source) ? 'commonjs' : undefined,
    };
  }
  const defaultType = typeOfDefault(namespace.default);
  return defaultType === undefined ? { kind: 'ok' } : { kind: 'default_not_a_function', defaultType };
}

// ── confinement: the job runtime's globals, with nowhere for output to go ─────────────────────

const refusedFetches = new WeakSet<object>();

function refuseFetch(): Promise<Response> {
  const error = new TypeError('fetch is not available while the module is checked at deploy.');
  refusedFetches.add(error);
  return Promise.reject(error);
}

const globalsBefore = new Set(Object.getOwnPropertyNames(globalThis));
new JobTimers().install();
const stuck = confineGlobals({ log: () => undefined }, refuseFetch as typeof globalThis.fetch);
if (stuck.length > 0) throw new Error(`The sandbox could not remove these globals: ${stuck.join(', ')}.`);
const removedGlobals = new Set([...globalsBefore].filter((name) => !Object.hasOwn(globalThis, name)));

socket.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(chunk)) {
    const message = frame.value as { t?: unknown; source?: unknown };
    if (checking || message.t !== 'check' || typeof message.source !== 'string') continue;
    checking = true;
    check(message.source)
      .then((verdict) => {
        if (verdict) post({ t: 'checked', verdict });
      })
      // The module's code replaced something posting needs: the node reads the exit as its doing.
      .catch(() => process.exit(EXIT_CANNOT_REPORT));
  }
});
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(0));
post({ t: 'ready' });
