import { QueueEvents, type QueueEventsOptions } from 'bullmq';

const EVENTS = ['progress', 'completed', 'failed', 'active', 'waiting', 'delayed', 'removed'] as const;
export type JobEventName = (typeof EVENTS)[number];
type Listener = (name: JobEventName) => void;
/** The events after which a job may have ended (a retry is announced as failed too; readers re-check). */
export const ENDING_EVENTS: readonly JobEventName[] = ['completed', 'failed', 'removed'];

/**
 * BullMQ queue events, read only while someone waits on a job (long polls, SSE streams): an
 * idle QueueEvents would still read and parse an event for every job submitted.
 */
export class JobEvents {
  private events: QueueEvents | undefined;
  private givenConnection: { disconnect?: () => void } | undefined;
  /** Who waits for news of which job: an event reaches only its job's listeners. */
  private readonly listeners = new Map<string, Set<Listener>>();
  private listenerCount = 0;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the reader became ready; until shortly after, events can be missed, so waits re-check often. */
  private listeningSince: number | undefined;

  constructor(
    private readonly queueName: string,
    /** Called for each reader: its own connection (a reader blocks on it), closed with the reader. */
    private readonly options: () => QueueEventsOptions,
    private readonly onError: (error: Error) => void,
    /** How long the reader lingers after its last listener left, to avoid reconnecting per request. */
    private readonly lingerMs = 10_000,
  ) {}

  /**
   * The next event about job `id` (or `ms` passing), listened for from now on. While the reader
   * is still connecting, `ms` is capped at 100, so a missed event costs little. `only`: the
   * events that count (by default every one).
   */
  next(id: string, ms: number, only?: readonly JobEventName[]): { happened: Promise<void>; cancel(): void } {
    let done: () => void = () => undefined;
    const happened = new Promise<void>((resolve) => {
      const listener: Listener = (name) => {
        if (only === undefined || only.includes(name)) done();
      };
      this.add(id, listener);
      const listening = this.listeningSince !== undefined && Date.now() - this.listeningSince > 100;
      const timer = setTimeout(() => done(), Math.max(0, listening ? ms : Math.min(ms, 100)));
      let finished = false;
      done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.remove(id, listener);
        resolve();
      };
    });
    return { happened, cancel: () => done() };
  }

  async close(): Promise<void> {
    clearTimeout(this.closeTimer);
    const events = this.events;
    const given = this.givenConnection;
    this.events = undefined;
    this.givenConnection = undefined;
    this.listeningSince = undefined;
    await events?.close().catch(() => undefined);
    if (typeof given?.disconnect === 'function') given.disconnect();
  }

  private add(id: string, listener: Listener): void {
    clearTimeout(this.closeTimer);
    const ofJob = this.listeners.get(id);
    if (ofJob) ofJob.add(listener);
    else this.listeners.set(id, new Set([listener]));
    this.listenerCount++;
    if (!this.events) {
      const options = this.options();
      const events = new QueueEvents(this.queueName, options);
      // BullMQ leaves a connection it was given open: this reader's own is closed with it.
      this.givenConnection = options.connection as { disconnect?: () => void } | undefined;
      this.listeningSince = undefined;
      events.waitUntilReady().then(
        () => {
          if (this.events === events) this.listeningSince = Date.now();
        },
        () => undefined,
      );
      events.on('error', this.onError);
      for (const name of EVENTS) events.on(name, (event: { jobId: string }) => this.dispatch(name, event));
      this.events = events;
    }
  }

  private remove(id: string, listener: Listener): void {
    const ofJob = this.listeners.get(id);
    if (!ofJob?.delete(listener)) return;
    if (ofJob.size === 0) this.listeners.delete(id);
    this.listenerCount--;
    if (this.listenerCount > 0 || !this.events) return;
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => void this.close(), this.lingerMs);
    this.closeTimer.unref();
  }

  private dispatch(name: JobEventName, event: { jobId: string }): void {
    const ofJob = this.listeners.get(event.jobId);
    if (ofJob) for (const listener of [...ofJob]) listener(name);
  }
}
