import { QueueEvents, type QueueEventsOptions } from 'bullmq';

type Listener = (event: { jobId: string }) => void;
const EVENTS = ['progress', 'completed', 'failed', 'active', 'waiting', 'delayed', 'removed'] as const;

/**
 * BullMQ queue events, read only while someone waits on a job (long polls, SSE streams): an
 * idle QueueEvents would still read and parse an event for every job submitted.
 */
export class JobEvents {
  private events: QueueEvents | undefined;
  private readonly listeners = new Set<Listener>();
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly queueName: string,
    private readonly options: QueueEventsOptions,
    private readonly onError: (error: Error) => void,
    /** How long the reader lingers after its last listener left, to avoid reconnecting per request. */
    private readonly lingerMs = 10_000,
  ) {}

  /** The next event about job `id` (or `ms` passing), listened for from now on. */
  next(id: string, ms: number): { happened: Promise<void>; cancel(): void } {
    let done: () => void = () => undefined;
    const happened = new Promise<void>((resolve) => {
      const listener: Listener = (event) => {
        if (event.jobId === id) done();
      };
      const timer = setTimeout(() => done(), Math.max(0, ms));
      let finished = false;
      done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.remove(listener);
        resolve();
      };
      this.add(listener);
    });
    return { happened, cancel: () => done() };
  }

  async close(): Promise<void> {
    clearTimeout(this.closeTimer);
    const events = this.events;
    this.events = undefined;
    await events?.close().catch(() => undefined);
  }

  private add(listener: Listener): void {
    clearTimeout(this.closeTimer);
    this.listeners.add(listener);
    if (!this.events) {
      const events = new QueueEvents(this.queueName, this.options);
      events.on('error', this.onError);
      for (const name of EVENTS) events.on(name, (event: { jobId: string }) => this.dispatch(event));
      this.events = events;
    }
  }

  private remove(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size > 0 || !this.events) return;
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => void this.close(), this.lingerMs);
    this.closeTimer.unref();
  }

  private dispatch(event: { jobId: string }): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
