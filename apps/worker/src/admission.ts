import { type AdmitVerdict, type JobData, type JobStore, pausedMember } from '@beamline/jobs';
import type { Job } from 'bullmq';
import { PausedFunctions } from './paused-functions.js';

/**
 * How long a job put back for a concurrency limit waits at most before it is taken again (ms;
 * jittered so retakes spread out). A run of its function or key that ends or is retried brings
 * one back at once (ADR 0016); this is for a wake-up that was lost (the job it woke was cancelled
 * before it ran).
 */
const SLOT_WAIT_MS = 60_000;

export type AdmissionStore = Pick<JobStore, 'admit' | 'pausedAmong'>;

/**
 * Which runs must be admitted by the job store before they start (ADR 0016): those of jobs with
 * limits on starting, and those of paused functions. A job without limits costs no Redis round
 * trip: the node keeps its view of each function's pause, read at most twice a second while its jobs start.
 */
export class Admission {
  private readonly paused: PausedFunctions;

  constructor(private readonly store: AdmissionStore) {
    this.paused = new PausedFunctions(store);
  }

  /** Admits the run, or puts the job back (its verdict says why); undefined when nothing limits it and it may start. */
  async admit(job: Job<JobData>, token: string | undefined): Promise<AdmitVerdict | undefined> {
    const data = job.data;
    const pausable = data.functionTenant === data.tenant;
    const paused = pausable && (await this.paused.isPaused(pausedMember(data.tenant, data.function)));
    if (data.admission === undefined && !paused) return undefined;
    const delay = SLOT_WAIT_MS + Math.floor((Math.random() * SLOT_WAIT_MS) / 2);
    return this.store.admit(job, token ?? '', pausable, delay);
  }
}
