import { describe, expect, it } from 'vitest';
import { FUNCTION_LABELS, FUNCTIONS_PER_TENANT, FunctionLabels, OTHER_FUNCTIONS } from '../src/function-labels.js';

describe('the function label of job metrics', () => {
  it("labels a tenant's functions by name up to its bound, the rest as (other), without taking another tenant's room", () => {
    const labels = new FunctionLabels();
    const names = Array.from({ length: FUNCTIONS_PER_TENANT + 500 }, (_, i) => `fn-${i}`);
    const given = names.map((name) => labels.of('flooder', name));
    expect(given.slice(0, FUNCTIONS_PER_TENANT)).toEqual(names.slice(0, FUNCTIONS_PER_TENANT));
    expect(new Set(given.slice(FUNCTIONS_PER_TENANT))).toEqual(new Set([OTHER_FUNCTIONS]));
    // A function already labelled keeps its name; another tenant still gets its own.
    expect(labels.of('flooder', 'fn-0')).toBe('fn-0');
    expect(labels.of('victim', 'payroll')).toBe('payroll');
  });

  it('holds at most FUNCTION_LABELS names on a node, whatever the number of tenants', () => {
    const labels = new FunctionLabels();
    const seen = new Set<string>();
    for (let tenant = 0; tenant < FUNCTION_LABELS / 10 + 50; tenant++) {
      for (let fn = 0; fn < 10; fn++) seen.add(labels.of(`t${tenant}`, `f${tenant}-${fn}`));
    }
    expect(seen.size).toBe(FUNCTION_LABELS + 1);
    expect(seen.has(OTHER_FUNCTIONS)).toBe(true);
  });
});
