/**
 * Rates at which a job may send output to its node. Beyond them output is dropped and counted,
 * so a job that prints in a loop cannot take the node's main thread (lock renewal, supervision)
 * away from everyone else.
 */
export type OutputKind = 'log' | 'progress' | 'send' | 'fetch';

export interface OutputRate {
  /** Sustained items per second. */
  readonly perSecond: number;
  /** Items allowed at once above the sustained rate. */
  readonly burst: number;
}

export const DEFAULT_OUTPUT_RATES: Readonly<Record<OutputKind, OutputRate>> = {
  log: { perSecond: 1000, burst: 2000 },
  progress: { perSecond: 100, burst: 200 },
  send: { perSecond: 10_000, burst: 20_000 },
  fetch: { perSecond: 50, burst: 100 },
};

/**
 * The output a sandbox limits itself before it posts (the node limits again, for a sandbox that
 * does not): a job printing in a loop then costs the node's main thread nothing past its rate.
 */
export type SandboxOutputKind = 'log' | 'progress';
export type SandboxOutputRates = Readonly<Record<SandboxOutputKind, OutputRate>>;

/** A token bucket per output kind, for one process. */
export class OutputLimiter<K extends string = OutputKind> {
  private readonly tokens = {} as Record<K, number>;
  private last = performance.now();

  constructor(private readonly rates: Readonly<Record<K, OutputRate>>) {
    for (const kind of Object.keys(rates) as K[]) this.tokens[kind] = rates[kind].burst;
  }

  /** Whether one more item of `kind` may go out now. */
  take(kind: K): boolean {
    const now = performance.now();
    const elapsedSeconds = (now - this.last) / 1000;
    this.last = now;
    if (elapsedSeconds > 0) {
      for (const k of Object.keys(this.tokens) as K[]) {
        this.tokens[k] = Math.min(this.rates[k].burst, this.tokens[k] + elapsedSeconds * this.rates[k].perSecond);
      }
    }
    if (this.tokens[kind] < 1) return false;
    this.tokens[kind] -= 1;
    return true;
  }
}
