import { BadArgError } from './errors.js';

/** Process priorities, as on the BEAM: max > high > normal > low. */
export const PRIORITIES = ['max', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function assertPriority(value: unknown, where: string): asserts value is Priority {
  if (!PRIORITIES.includes(value as Priority)) {
    throw new BadArgError(`${where} must be one of ${PRIORITIES.join(', ')}; got ${JSON.stringify(value)}.`);
  }
}
