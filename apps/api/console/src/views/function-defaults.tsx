import type { FunctionDefaults } from '../types.js';

/** The limits ADR 0016 adds to a function's defaults, in the order the console shows them, with their labels. */
const LIMITS: ReadonlyArray<{ key: 'concurrency' | 'keyConcurrency' | 'ratePerSecond'; label: string; unit?: string }> =
  [
    { key: 'concurrency', label: 'concurrency' },
    { key: 'keyConcurrency', label: 'key concurrency' },
    { key: 'ratePerSecond', label: 'rate', unit: 'per second' },
  ];

const isLimit = (key: string): boolean => LIMITS.some((limit) => limit.key === key);

/** A function's defaults: its limits spelled out (those set), then its other defaults as JSON. */
export function FunctionDefaultsCell({ defaults }: { defaults: FunctionDefaults }) {
  const limits = LIMITS.filter(({ key }) => typeof defaults[key] === 'number');
  const others = Object.fromEntries(Object.entries(defaults).filter(([key]) => !isLimit(key)));
  const hasOthers = Object.keys(others).length > 0;
  return (
    <>
      {limits.length > 0 && (
        <ul class="limits" aria-label="Limits" data-testid="function-limits">
          {limits.map(({ key, label, unit }) => (
            <li key={key}>
              {label} <strong>{defaults[key]}</strong>
              {unit ? ` ${unit}` : ''}
            </li>
          ))}
        </ul>
      )}
      {(hasOthers || limits.length === 0) && <span class="mono">{JSON.stringify(others)}</span>}
    </>
  );
}
