import { describe, expect, it } from 'vitest';
import { decodeExit, describeExit, encodeExit } from '../src/index.js';

describe('exit reasons as BullMQ keeps them', () => {
  it('round-trips an error exit with its fault through failedReason and the stack', () => {
    const error = new TypeError('x is not a function');
    const exit = describeExit({ error, fault: 'uncaught_exception' } as never, 1);
    const decoded = decodeExit(encodeExit(exit), exit.error?.stack, 1);
    expect(decoded).toMatchObject({
      reason: 'error',
      fault: 'uncaught_exception',
      error: { name: 'TypeError', message: 'x is not a function' },
    });
  });

  it("keeps only the runtime's faults: job code cannot forge one, nor make one of any size", () => {
    const forged = describeExit({ error: new Error('forged'), fault: 'x]: hello' } as never);
    expect(forged.fault).toBeUndefined();
    const huge = describeExit({ error: new Error('big'), fault: 'f'.repeat(3_000_000) } as never);
    expect(huge.fault).toBeUndefined();
    expect(encodeExit(huge).length).toBeLessThan(100);
  });

  it('shows what BullMQ wrote itself as stalled or error, and a custom reason as other', () => {
    expect(decodeExit('job stalled more than allowable limit', undefined, 1).reason).toBe('stalled');
    expect(decodeExit('something else', undefined, 1).reason).toBe('error');
    expect(describeExit({ mine: 1 } as never).reason).toBe('other');
  });
});
