import { defineFunction } from '@beamline/sdk';

export interface Input {
  /** Count the primes below this (at most 2,000,000,000). */
  readonly limit: number;
}

export interface Output {
  readonly limit: number;
  readonly primes: number;
  readonly largest: number | null;
  readonly ms: number;
}

/** Numbers sieved per segment: small enough to stay in cache, large enough to be cheap to step. */
const SEGMENT = 1 << 18;

/** The primes up to √limit, which cross out the composites of every segment. */
function basePrimes(upTo: number): number[] {
  const composite = new Uint8Array(upTo + 1);
  const primes: number[] = [];
  for (let n = 2; n <= upTo; n++) {
    if (composite[n]) continue;
    primes.push(n);
    for (let m = n * n; m <= upTo; m += n) composite[m] = 1;
  }
  return primes;
}

export default defineFunction<Input, Output>(async ({ limit }, ctx) => {
  if (!Number.isInteger(limit) || limit < 2 || limit > 2_000_000_000) {
    throw new RangeError(`limit must be a whole number from 2 to 2,000,000,000; got ${limit}`);
  }
  const started = performance.now();
  const base = basePrimes(Math.floor(Math.sqrt(limit)));
  const segment = new Uint8Array(SEGMENT);
  let primes = 0;
  let largest: number | null = null;
  let reported = -1;

  for (let low = 2; low < limit; low += SEGMENT) {
    const high = Math.min(low + SEGMENT, limit);
    segment.fill(0);
    for (const p of base) {
      if (p * p >= high) break;
      for (let m = Math.max(p * p, Math.ceil(low / p) * p); m < high; m += p) segment[m - low] = 1;
    }
    for (let n = low; n < high; n++) {
      if (segment[n - low]) continue;
      primes++;
      largest = n;
    }
    // Every 5 percent, and at the end: a few dozen updates whatever the limit.
    const percent = Math.floor((high / limit) * 100);
    if (percent >= reported + 5 || high === limit) {
      reported = percent;
      ctx.progress({ percent, primes, checked: high });
    }
  }
  const ms = Math.round(performance.now() - started);
  ctx.log(`${primes} primes below ${limit} in ${ms} ms`);
  return { limit, primes, largest, ms };
});
