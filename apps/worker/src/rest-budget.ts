/**
 * How often a node's slots may take their next job at once after putting one back (a job over its
 * tenant's cap or its limits). A slot that finds the budget spent rests before taking another: a
 * queue full of one capped tenant's jobs is then gone through a few jobs a second, not at Redis
 * speed, while another tenant's job that waits right behind one put back is taken at once.
 */
export class RestBudget {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.refilledAt = now();
  }

  /** True when the slot should rest; false when it may take its next job at once (and spends one). */
  shouldRest(): boolean {
    const at = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((at - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = at;
    if (this.tokens < 1) return true;
    this.tokens -= 1;
    return false;
  }
}
