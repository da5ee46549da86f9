import type { Keys } from '../keys.js';
import { unparkCall } from './admission.js';
import { type RedisClient, withStoreCommands } from './scripts.js';

/** Parked jobs brought back per step: a step holds Redis a few ms, whatever the backlog. */
const UNPARK_PER_STEP = 100;

/**
 * Brings a function's parked jobs back to the queue (ADR 0016), resuming it first when `resume`:
 * the first step takes it out of the paused set, each step brings back up to UNPARK_PER_STEP jobs.
 * Resolves to how many steps it took.
 */
export async function unparkFunction(
  redis: RedisClient,
  keys: Keys,
  tenant: string,
  functionName: string,
  resume: boolean,
): Promise<number> {
  const client = withStoreCommands(redis);
  let steps = 0;
  let left: number;
  do {
    const call = unparkCall(keys, tenant, functionName, resume && steps === 0, UNPARK_PER_STEP);
    left = Number(await client.beamlineUnpark(11, ...call));
    steps++;
  } while (left > 0);
  return steps;
}
