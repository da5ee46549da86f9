import { readFileSync } from 'node:fs';
import { UsageError } from './command.js';

/** A JSON value given inline, as `@file`, or as `@-` (standard input). `what` names it in errors. */
export function readJsonArgument(text: string, what: string): unknown {
  let json = text;
  if (text.startsWith('@')) {
    const file = text.slice(1);
    try {
      json = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `${what}: cannot read ${file === '-' ? 'standard input' : file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      );
    }
  }
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON (${(error as Error).message}); quote strings: '"text"'.`);
  }
}

/** A whole number option within bounds, or a usage error naming the option. */
export function readWholeNumber(
  text: string | undefined,
  option: string,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UsageError(`--${option} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}.`);
  }
  return value;
}

/** One of a fixed set of words, or a usage error listing them. */
export function readChoice<T extends string>(
  text: string | undefined,
  option: string,
  choices: readonly T[],
): T | undefined {
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${option} must be one of ${choices.join(', ')}; got ${JSON.stringify(text)}.`);
  }
  return text as T;
}
