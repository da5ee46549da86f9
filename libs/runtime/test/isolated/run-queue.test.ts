import { describe, expect, it } from 'vitest';
import { LOW_EVERY, RunQueue } from '../../src/isolated/run-queue.js';

describe('RunQueue', () => {
  it('serves max, then high, then normal, in arrival order within a priority', () => {
    const queue = new RunQueue<string>();
    queue.push('n1', 'normal');
    queue.push('h1', 'high');
    queue.push('m1', 'max');
    queue.push('n2', 'normal');
    queue.push('h2', 'high');
    expect([queue.pop(), queue.pop(), queue.pop(), queue.pop(), queue.pop(), queue.pop()]).toEqual([
      'm1',
      'h1',
      'h2',
      'n1',
      'n2',
      undefined,
    ]);
  });

  it('gives low a turn after every LOW_EVERY normal picks, so it is never starved', () => {
    const queue = new RunQueue<string>();
    for (let i = 0; i < 3 * LOW_EVERY; i++) queue.push(`n${i}`, 'normal');
    queue.push('l0', 'low');
    queue.push('l1', 'low');
    const order = Array.from({ length: 3 * LOW_EVERY + 2 }, () => queue.pop());
    expect(order.indexOf('l0')).toBe(LOW_EVERY);
    expect(order.indexOf('l1')).toBe(2 * LOW_EVERY + 1);
    expect(queue.length).toBe(0);
  });

  it('a low entry alone runs at once; removed entries are skipped and not counted', () => {
    const queue = new RunQueue<string>();
    queue.push('l0', 'low');
    queue.push('n0', 'normal');
    queue.push('n1', 'normal');
    expect(queue.remove('n0', 'normal')).toBe(true);
    expect(queue.remove('n0', 'normal')).toBe(false);
    expect(queue.lengths()).toEqual({ max: 0, high: 0, normal: 1, low: 1 });
    expect(queue.pop()).toBe('n1');
    expect(queue.pop()).toBe('l0');
    expect(queue.pop()).toBeUndefined();
  });
});
