import { describe, expect, it } from 'vitest';
import { boundedJson, truncated } from '../src/bounded-json.js';

describe('boundedJson', () => {
  it('gives what JSON.stringify gives for plain data', () => {
    const values: unknown[] = [
      { a: 1, b: [1, 'two', null, true], c: { d: undefined, e: () => 1 }, f: new Date(0), g: 'é"\n\u0001' },
      [undefined, () => 1, Symbol('s'), Number.NaN, -0, 1e21],
      'text',
      42,
      null,
      new Map([[1, 2]]),
      Object.assign([1, 2], { extra: 3 }),
      new Uint8Array([1, 2, 255]),
      new Float64Array([0.5, Number.NaN]),
    ];
    for (const value of values) expect(boundedJson(value, 10_000)).toEqual({ fits: true, text: JSON.stringify(value) });
    expect(boundedJson(undefined, 10)).toEqual({ fits: true, text: undefined });
  });

  it('gives up at the limit on values whose JSON is far larger than their serialized form', () => {
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    const started = performance.now();
    expect(boundedJson(sparse, 1_000_000)).toEqual({ fits: false });
    expect(boundedJson(new Uint8Array(15_000_000), 1_000_000)).toEqual({ fits: false });
    expect(boundedJson('\u0001'.repeat(5_000_000), 1_000_000)).toEqual({ fits: false });
    let shared: unknown = ['x'];
    for (let i = 0; i < 40; i++) shared = [shared, shared];
    expect(boundedJson(shared, 1_000_000)).toEqual({ fits: false });
    // JSON.stringify of these runs for minutes or runs out of memory; the bounded writer stops at once.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('throws as JSON.stringify does on cycles and BigInts', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => boundedJson(cyclic, 100)).toThrow(/circular/);
    expect(() => boundedJson({ n: 1n }, 100)).toThrow(/BigInt/);
  });

  it('truncates long text with a marker', () => {
    expect(truncated('abcdef', 3)).toBe('abc… [3 more characters cut]');
    expect(truncated('abc', 3)).toBe('abc');
  });
});
