/**
 * The messages between a node and a check sandbox (check-entry.ts), which loads one function
 * module at deploy time and reports what it found. The sandbox reports facts; the node writes the
 * messages users read. Everything the sandbox sends is untrusted (the module's top-level code has
 * run in it): the node checks each message with validateFromCheck before it reads it.
 */

/** The identifier a check sandbox gives the module: stack traces and Node's syntax-error report name it so. */
export const CHECK_MODULE_IDENTIFIER = 'beamline-function:check';

/** Longest string field the node accepts from a check sandbox. */
export const MAX_CHECK_TEXT = 1000;
/** Export names reported for a module without a default export, at most. */
export const MAX_EXPORT_NAMES = 20;
/** Largest frame the node accepts from a check sandbox. */
export const MAX_CHECK_FRAME_BYTES = 64 * 1024;

/**
 * What the module's source looks like when it is not a JavaScript ES module: TypeScript (it parses
 * once its types are stripped), CommonJS (`require`, `module.exports`), or code that reaches for a
 * global of Node's the job runtime does not have.
 */
export type SourceDialect = 'typescript' | 'commonjs' | 'node_global' | 'top_level_fetch';

export type CheckVerdict =
  | { readonly kind: 'ok' }
  /** The module does not compile; where is on the sandbox's stderr (Node's own caret line). */
  | { readonly kind: 'syntax'; readonly name: string; readonly message: string }
  | {
      readonly kind: 'unresolved_import';
      readonly specifier: string;
      /** Every static import, in source order (the first ones, when there are many). */
      readonly specifiers: readonly string[];
      readonly dynamic: boolean;
      readonly line: number | undefined;
      readonly column: number | undefined;
    }
  | {
      readonly kind: 'no_default_export';
      readonly exportNames: readonly string[];
      readonly dialect: SourceDialect | undefined;
    }
  | { readonly kind: 'default_not_a_function'; readonly defaultType: string }
  | {
      readonly kind: 'top_level_throw';
      readonly name: string;
      readonly message: string;
      /** How it escaped: thrown by the evaluation, or raised later by a callback or a rejected promise. */
      readonly via: 'evaluation' | 'uncaught_exception' | 'unhandled_rejection';
      readonly dialect: SourceDialect | undefined;
      readonly line: number | undefined;
      readonly column: number | undefined;
    }
  /** An allocation the sandbox's memory limits refused, thrown as an error rather than ending it. */
  | { readonly kind: 'top_level_memory'; readonly message: string };

export type ToCheck = { readonly t: 'check'; readonly source: string };

export type FromCheck =
  | { readonly t: 'ready' }
  | { readonly t: 'checked'; readonly verdict: CheckVerdict }
  /** After a syntax verdict: what the source that does not compile seems to be. */
  | { readonly t: 'dialect'; readonly dialect: SourceDialect };

const DIALECTS = new Set<unknown>(['typescript', 'commonjs', 'node_global', 'top_level_fetch']);
const VIAS = new Set<unknown>(['evaluation', 'uncaught_exception', 'unhandled_rejection']);

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_CHECK_TEXT;
const isPosition = (value: unknown): boolean =>
  value === undefined || (Number.isSafeInteger(value) && (value as number) >= 1);
const isDialect = (value: unknown): boolean => value === undefined || DIALECTS.has(value);
const isTextList = (value: unknown): boolean =>
  Array.isArray(value) && value.length <= MAX_EXPORT_NAMES && value.every(isText);

const VERDICTS: Record<CheckVerdict['kind'], (v: Fields) => boolean> = {
  ok: () => true,
  syntax: (v) => isText(v.name) && isText(v.message),
  unresolved_import: (v) =>
    isText(v.specifier) &&
    isTextList(v.specifiers) &&
    typeof v.dynamic === 'boolean' &&
    isPosition(v.line) &&
    isPosition(v.column),
  no_default_export: (v) => isTextList(v.exportNames) && isDialect(v.dialect),
  default_not_a_function: (v) => isText(v.defaultType),
  top_level_throw: (v) =>
    isText(v.name) &&
    isText(v.message) &&
    VIAS.has(v.via) &&
    isDialect(v.dialect) &&
    isPosition(v.line) &&
    isPosition(v.column),
  top_level_memory: (v) => isText(v.message),
};

/** The message, or why it is refused. */
export function validateFromCheck(value: unknown): FromCheck | string {
  if (!isObject(value)) return 'a message that is not an object';
  switch (value.t) {
    case 'ready':
      return { t: 'ready' };
    case 'dialect':
      return DIALECTS.has(value.dialect) ? (value as FromCheck) : 'a malformed dialect message';
    case 'checked': {
      const verdict = value.verdict;
      if (!isObject(verdict) || typeof verdict.kind !== 'string' || !Object.hasOwn(VERDICTS, verdict.kind)) {
        return 'a verdict of unknown kind';
      }
      return VERDICTS[verdict.kind as CheckVerdict['kind']](verdict) ? (value as FromCheck) : 'a malformed verdict';
    }
    default:
      return 'a message of unknown type';
  }
}
