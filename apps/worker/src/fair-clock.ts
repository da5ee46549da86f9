import { type JobStore, REQUEUE_PER_STEP } from '@beamline/jobs';

/** How often a node moves the jobs BullMQ added back into their tenants' streams of the fair queue. */
export const FAIR_CLOCK_MS = 250;
/** Steps one tick may take while each finds a full batch (REQUEUE_PER_STEP jobs). */
const STEPS_PER_TICK = 5;

/**
 * Jobs BullMQ adds back (retries, delays coming due, stalled, put-back and unparked jobs) wait
 * behind every job queued fairly; every FAIR_CLOCK_MS each node moves them, oldest first, into
 * their tenants' streams (ADR 0017), so neither do they wait behind other tenants' backlogs nor
 * does a burst of them go ahead of other tenants' jobs.
 */
export class FairClock {
  private readonly timer: ReturnType<typeof setInterval>;
  private ticking = false;

  constructor(store: Pick<JobStore, 'requeueAddedBack'>, everyMs = FAIR_CLOCK_MS) {
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      void (async () => {
        try {
          for (let step = 0; step < STEPS_PER_TICK; step++) {
            if ((await store.requeueAddedBack(REQUEUE_PER_STEP)) < REQUEUE_PER_STEP) break;
          }
        } catch {
          // Redis unavailable: the next tick moves them.
        } finally {
          this.ticking = false;
        }
      })();
    }, everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
