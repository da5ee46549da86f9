import { describe, expect, it } from 'vitest';
import { NicePolicy } from '../../src/isolated/nice.js';

describe('NicePolicy', () => {
  it('maps priorities to nice values below the main thread, low always 19', () => {
    const policy = new NicePolicy();
    const { max, high, normal, low } = policy.niceByPriority;
    expect(policy.mainThreadNice).toBeLessThan(max);
    expect(max).toBeLessThanOrEqual(high);
    expect(high).toBeLessThanOrEqual(normal);
    expect(low).toBe(19);
  });

  it('says priorities are not enforced, and why, when the OS refuses to set a nice value', () => {
    const policy = new NicePolicy();
    const gone = { tid: 2 ** 30, nice: undefined };
    expect(policy.apply(gone, 'low')).toBe(true);
    expect(policy.status()).toMatchObject({
      enforced: false,
      reason: expect.stringMatching(/setpriority on isolate threads failed/),
    });
  });

  it('says so when the OS gives no thread ids', () => {
    const policy = new NicePolicy();
    expect(policy.apply({ tid: undefined, nice: undefined }, 'normal')).toBe(true);
    expect(policy.status()).toMatchObject({ enforced: false, reason: expect.stringMatching(/need Linux/) });
  });

  it('refuses a warm thread when the OS will not lower its nice value', () => {
    const policy = new NicePolicy();
    const refused = { tid: 2 ** 30, nice: 19 };
    expect(policy.apply(refused, 'max')).toBe(false);
  });
});
