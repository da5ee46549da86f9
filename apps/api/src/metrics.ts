import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics (docs/metrics.md). */
export class ApiMetrics {
  readonly registry = new Registry();

  /**
   * `queueDepth` reads BullMQ's counts at scrape time: the API exports queue depth too, so that
   * an autoscaler sees waiting jobs when no worker runs (scale from zero).
   */
  constructor(redisConnected: () => boolean = () => true, queueDepth?: () => Promise<Record<string, number>>) {
    if (queueDepth) {
      new Gauge({
        name: 'beamline_queue_depth',
        help: 'Jobs in the queue by state (waiting, prioritized, delayed, active, completed, failed)',
        labelNames: ['state'],
        registers: [this.registry],
        async collect() {
          const counts = await Promise.race([
            queueDepth(),
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000).unref()),
          ]).catch(() => undefined);
          if (counts) for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        },
      });
    }
    new Gauge({
      name: 'beamline_redis_connected',
      help: '1 while the API is connected to Redis, 0 while it is not',
      registers: [this.registry],
      collect() {
        this.set(redisConnected() ? 1 : 0);
      },
    });
  }

  readonly requestSeconds = new Histogram({
    name: 'beamline_http_request_duration_seconds',
    help: 'API request duration by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly clientClosed = new Counter({
    name: 'beamline_http_client_closed_total',
    help: 'Requests whose client disconnected before the request was read whole (not errors, not in the duration histogram)',
    labelNames: ['route', 'method'],
    registers: [this.registry],
  });
  readonly submitted = new Counter({
    name: 'beamline_jobs_submitted_total',
    help: 'Jobs accepted by the API',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'beamline_jobs_rejected_total',
    help: 'Job submissions refused by the API, by reason (invalid, backlog, unavailable, conflict)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
}
