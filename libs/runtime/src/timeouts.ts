import { BadArgError } from './errors.js';

/** Accepts a non-negative number of milliseconds, or Infinity for "no limit". */
export function assertTimeout(value: unknown, where: string): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new BadArgError(
      `${where} must be a number of milliseconds ≥ 0 (or Infinity to wait forever); got ${String(value)}.`,
    );
  }
}
