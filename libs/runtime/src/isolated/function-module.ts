import { createHash } from 'node:crypto';
import { BadArgError } from '../errors.js';

/**
 * A function version: JavaScript module source whose default export is
 * `async (input, ctx) => result`, and the id it is known by. Same id, same source: warm threads
 * are reused by id.
 */
export interface FunctionModule {
  readonly id: string;
  readonly source: string;
}

/** A function module whose id is its name (when given) and the sha256 of its source. */
export function functionModule(source: string, name?: string): FunctionModule {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new BadArgError('A function module needs its JavaScript source as a non-empty string.');
  }
  const sha256 = createHash('sha256').update(source).digest('hex');
  return { id: name === undefined ? `sha256:${sha256}` : `${name}@${sha256.slice(0, 16)}`, source };
}

export function assertFunctionModule(value: unknown, where: string): asserts value is FunctionModule {
  const candidate = value as Partial<FunctionModule> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.id !== 'string' ||
    candidate.id === '' ||
    typeof candidate.source !== 'string'
  ) {
    throw new BadArgError(
      `${where} must be a function module { id, source } (make one with functionModule(source, name)); got ${describe(value)}.`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function (isolated processes run module source, not closures)';
  return value === null ? 'null' : typeof value;
}
