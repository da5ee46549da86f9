import { type AdmitVerdict, type JobData, type JobStore, pausedMember } from '@beamline/jobs';
import type { Job } from 'bullmq';

/** A paused function reaches a node within about this long (ms): its copy of the paused set is refreshed in the background once older. */
export const PAUSED_REFRESH_MS = 500;
/** A copy older than this (the node was idle) is read again before a job starts (ms). */
const PAUSED_STALE_MS = 1_000;

/** How long a job put back for a concurrency limit waits before it can be taken again (ms; jittered so retakes spread out). */
const PUT_BACK_DELAY_MS = 250;

export type AdmissionStore = Pick<JobStore, 'admit' | 'pausedFunctions'>;

/**
 * Which runs must be admitted by the job store before they start (ADR 0016): those of jobs with
 * limits on starting, and those of paused functions. A job without limits costs no Redis round
 * trip: the node keeps a copy of the paused functions, read at most twice a second while jobs start.
 */
export class Admission {
  private paused = new Set<string>();
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(private readonly store: AdmissionStore) {}

  /** Admits the run, or puts the job back (its verdict says why); undefined when nothing limits it and it may start. */
  async admit(job: Job<JobData>, token: string | undefined): Promise<AdmitVerdict | undefined> {
    const data = job.data;
    const pausable = data.functionTenant === data.tenant;
    const paused = pausable && (await this.isPaused(data.tenant, data.function));
    if (data.admission === undefined && !paused) return undefined;
    const delay = PUT_BACK_DELAY_MS + Math.floor(Math.random() * PUT_BACK_DELAY_MS);
    return this.store.admit(job, token ?? '', pausable, delay);
  }

  private async isPaused(tenant: string, functionName: string): Promise<boolean> {
    const age = Date.now() - this.readAt;
    if (age > PAUSED_STALE_MS) await this.refresh();
    else if (age > PAUSED_REFRESH_MS) void this.refresh().catch(() => undefined);
    return this.paused.has(pausedMember(tenant, functionName));
  }

  private refresh(): Promise<void> {
    this.reading ??= this.store
      .pausedFunctions()
      .then((paused) => {
        this.paused = paused;
        this.readAt = Date.now();
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
