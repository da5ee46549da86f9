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
    const refusing = { nice: undefined, reniceable: true, renice: () => 'EPERM' };
    expect(policy.apply(refusing, 'low')).toBe(true);
    expect(policy.status()).toMatchObject({
      enforced: false,
      reason: expect.stringMatching(/setpriority on sandbox threads failed: EPERM/),
    });
  });

  it('says so when the sandbox process is not known to the OS', () => {
    const policy = new NicePolicy();
    expect(policy.apply({ nice: undefined, reniceable: false, renice: () => undefined }, 'normal')).toBe(true);
    expect(policy.status()).toMatchObject({ enforced: false, reason: expect.stringMatching(/need Linux/) });
  });

  it('refuses a warm sandbox when the OS will not lower its nice value', () => {
    const policy = new NicePolicy();
    const refused = { nice: 19, reniceable: true, renice: () => 'EACCES' };
    expect(policy.apply(refused, 'max')).toBe(false);
  });
});
