import type { JobStore } from '@beamline/jobs';

/** How often a node brings the counter of jobs BullMQ adds back to the head of the fair queue. */
export const FAIR_CLOCK_MS = 250;

/**
 * Jobs BullMQ adds back (retries, delays coming due, stalled and put-back jobs) take the counter
 * the store keeps at the head's round of the fair queue (ADR 0017). Submissions align it; while the
 * nodes take jobs the head moves on, and put-back jobs push the counter past it, so every node
 * aligns it again every FAIR_CLOCK_MS: one short script, whatever the number of jobs.
 */
export class FairClock {
  private readonly timer: ReturnType<typeof setInterval>;
  private aligning = false;

  constructor(store: Pick<JobStore, 'alignFairClock'>, everyMs = FAIR_CLOCK_MS) {
    this.timer = setInterval(() => {
      if (this.aligning) return;
      this.aligning = true;
      store
        .alignFairClock()
        // Redis unavailable: the next tick aligns it.
        .catch(() => undefined)
        .finally(() => {
          this.aligning = false;
        });
    }, everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
