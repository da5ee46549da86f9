import { describe, expect, it } from 'vitest';
import { RestBudget } from '../src/rest-budget.js';

describe('RestBudget', () => {
  it('lets slots retake at once up to its rate, then makes them rest until it refills', () => {
    let now = 0;
    const budget = new RestBudget(50, () => now);
    const first = Array.from({ length: 60 }, () => budget.shouldRest());
    expect(first.filter((rest) => !rest)).toHaveLength(50);
    expect(first.slice(50).every((rest) => rest)).toBe(true);
    now += 100;
    const after = Array.from({ length: 10 }, () => budget.shouldRest());
    expect(after.filter((rest) => !rest)).toHaveLength(5);
    now += 60_000;
    expect(Array.from({ length: 60 }, () => budget.shouldRest()).filter((rest) => !rest)).toHaveLength(50);
  });
});
