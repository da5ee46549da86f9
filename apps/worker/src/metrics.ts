import type { Node, Report, Scheduler } from '@beamline/runtime';
import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FunctionLabels } from './function-labels.js';

/** Why a control-channel message or signal was not delivered. */
export type ControlRefusal =
  | 'malformed'
  | 'no_such_job'
  | 'tenant_mismatch'
  | 'no_sender_tenant'
  | 'undeliverable'
  | 'overflow';

/** Exit reasons that mean the platform ended the process, counted as kills. */
const KILL_REASONS = new Set(['killed', 'cancelled', 'timeout', 'cpu_limit', 'memory_limit', 'shutdown']);
const RUN_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A counter that follows a cumulative total read from elsewhere (the runtime's stats). */
function follow(
  counter: Counter<string>,
  seen: Map<string, number>,
  labels: Record<string, string>,
  total: number,
): void {
  const key = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels)}`;
  const delta = total - (seen.get(key) ?? 0);
  // A series exists from its first reading, even at 0 (CPU time comes in 10 ms ticks).
  if (delta > 0 || !seen.has(key)) counter.inc(labels, Math.max(0, delta));
  seen.set(key, Math.max(total, seen.get(key) ?? 0));
}

/**
 * The worker node's Prometheus metrics (names in docs/metrics.md): the scheduler's stats read at
 * scrape time, job metrics recorded as jobs end, and queue depth read from BullMQ.
 */
export class WorkerMetrics {
  /** The `function` label of job metrics, bounded per tenant and per node. */
  private readonly functionLabels = new FunctionLabels();
  readonly registry = new Registry();
  private readonly runSeconds: Histogram<string>;
  private readonly waitSeconds: Histogram<string>;
  private readonly completed: Counter<string>;
  private readonly failed: Counter<string>;
  private readonly restarts: Counter<string>;
  private readonly kills: Counter<string>;
  private readonly supervisorRestarts: Counter<string>;
  private readonly intensityExhausted: Counter<string>;
  private readonly cpuSeconds: Counter<string>;
  private readonly stalled: Counter<string>;
  private readonly controlRefused: Counter<string>;
  private readonly throttled: Counter<string>;
  private readonly outputDropped: Counter<string>;

  constructor(nodeId: string, node: Node, scheduler: Scheduler, queue: Queue, redisConnected: () => boolean) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeId });
    const seen = new Map<string, number>();

    new Gauge({
      name: 'beamline_scheduler_utilization',
      help: 'CPU time of isolated-process threads / (cores × wall time) over the sliding window (0–1)',
      registers,
      collect() {
        this.set(scheduler.stats().utilization);
      },
    });
    new Gauge({
      name: 'beamline_scheduler_cores',
      help: 'Usable CPUs of the node (cgroup-aware)',
      registers,
      collect() {
        this.set(scheduler.cores);
      },
    });
    new Gauge({
      name: 'beamline_run_queue_length',
      help: 'Isolated processes waiting for a scheduler slot, by priority',
      labelNames: ['priority'],
      registers,
      collect() {
        for (const [priority, length] of Object.entries(scheduler.stats().runQueue)) this.set({ priority }, length);
      },
    });
    new Gauge({
      name: 'beamline_processes',
      help: 'Live processes by kind (green, isolated) and status (runnable, running, waiting, exiting)',
      labelNames: ['kind', 'status'],
      registers,
      collect() {
        this.reset();
        for (const process of node.processes()) {
          const info = node.processInfo(process);
          if (info) this.inc({ kind: info.kind, status: info.status });
        }
      },
    });
    const cpu = new Counter({
      name: 'beamline_process_cpu_seconds_total',
      help: 'CPU time used by isolated processes, by priority (from the kernel)',
      labelNames: ['priority'],
      registers,
      collect() {
        for (const [priority, seconds] of Object.entries(scheduler.stats().cpuSecondsByPriority)) {
          follow(cpu, seen, { priority }, seconds);
        }
      },
    });
    const sandboxDropped = new Counter({
      name: 'beamline_process_output_dropped_total',
      help: 'Output isolated processes sent faster than their rate (log, progress, send, fetch), dropped by the runtime before the job layer sees it',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, count] of Object.entries(scheduler.stats().dropped)) {
          follow(sandboxDropped, seen, { kind }, count);
        }
      },
    });
    const costly = new Counter({
      name: 'beamline_process_message_seconds_total',
      help: "Main-thread CPU time spent reading sandboxes' messages that cost 1 ms or more (large or intricate values), and the pauses their tenants' sandboxes got for it (at most a tenth of the main thread per tenant)",
      labelNames: ['kind'],
      registers,
      collect() {
        const { handlingMs, pausedMs } = scheduler.stats().costlyMessages;
        follow(costly, seen, { kind: 'handling' }, handlingMs / 1000);
        follow(costly, seen, { kind: 'paused' }, pausedMs / 1000);
      },
    });
    const spawns = new Counter({
      name: 'beamline_process_spawns_total',
      help: 'Processes spawned, by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const isolated = scheduler.stats().spawns;
        follow(spawns, seen, { kind: 'isolated' }, isolated);
        follow(spawns, seen, { kind: 'green' }, node.stats().spawned - isolated);
      },
    });
    const exits = new Counter({
      name: 'beamline_process_exits_total',
      help: 'Process exits by reason (normal, shutdown, killed, timeout, cpu_limit, memory_limit, cancelled, error, …)',
      labelNames: ['reason'],
      registers,
      collect() {
        for (const [reason, count] of Object.entries(node.stats().exits)) follow(exits, seen, { reason }, count);
      },
    });
    new Gauge({
      name: 'beamline_isolate_pool_threads',
      help: 'Isolate threads by state: busy (running a process), warm (idle, function loaded), prestarted',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = scheduler.stats().pool;
        this.set({ state: 'busy' }, pool.busy);
        this.set({ state: 'warm' }, pool.warm);
        this.set({ state: 'prestarted' }, pool.prestarted);
      },
    });
    new Gauge({
      name: 'beamline_control_plane_lag_seconds',
      help: "Event-loop delay of the node's main thread (supervision, lock renewal) over the window",
      labelNames: ['quantile'],
      registers,
      collect() {
        const lag = scheduler.stats().mainThread.lagMs;
        this.set({ quantile: '0.5' }, lag.p50 / 1000);
        this.set({ quantile: '0.99' }, lag.p99 / 1000);
        this.set({ quantile: '1' }, lag.max / 1000);
      },
    });
    const stalled = new Counter({
      name: 'beamline_control_plane_stalled_seconds_total',
      help: "Time the node's main thread was held up (its 100 ms sampler ran more than 50 ms late): a counter, so a stall shows whenever the scrape comes",
      registers,
      collect() {
        follow(stalled, seen, {}, scheduler.stats().mainThread.stalledMs / 1000);
      },
    });
    new Gauge({
      name: 'beamline_control_plane_utilization',
      help: "Event-loop utilization of the node's main thread over the window (0–1)",
      registers,
      collect() {
        this.set(scheduler.stats().mainThread.utilization);
      },
    });
    new Gauge({
      name: 'beamline_priorities_enforced',
      help: '1 when process priorities reach the CPU as thread nice values, 0 when they only order the run queue',
      registers,
      collect() {
        this.set(scheduler.stats().priorities.enforced ? 1 : 0);
      },
    });
    new Gauge({
      name: 'beamline_tenant_cpu_shares_enforced',
      help: "1 when tenants share the node's CPU equally through control groups, 0 when the OS does not allow it",
      registers,
      collect() {
        this.set(scheduler.stats().priorities.tenantShares.enforced ? 1 : 0);
      },
    });
    new Gauge({
      name: 'beamline_queue_depth',
      help: 'Jobs in the queue by state (waiting, prioritized, delayed, active, completed, failed)',
      labelNames: ['state'],
      registers,
      async collect() {
        // While Redis is unreachable, a scrape must not hang: it keeps the last known values.
        const counts = await Promise.race([
          queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000).unref()),
        ]).catch(() => undefined);
        if (counts) for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'beamline_redis_connected',
      help: '1 while the node is connected to Redis, 0 while it is not',
      registers,
      collect() {
        this.set(redisConnected() ? 1 : 0);
      },
    });
    this.cpuSeconds = new Counter({
      name: 'beamline_job_cpu_seconds_total',
      help: "CPU time of job processes, by function (from the kernel's per-thread accounting)",
      labelNames: ['function'],
      registers,
    });
    this.stalled = new Counter({
      name: 'beamline_jobs_stalled_total',
      help: 'Jobs this node found stalled (their node stopped renewing the lock) and recovered',
      registers,
    });
    this.controlRefused = new Counter({
      name: 'beamline_control_refused_total',
      help: 'Control-channel messages and signals not delivered, by reason (malformed, no_such_job, tenant_mismatch, no_sender_tenant, undeliverable, overflow)',
      labelNames: ['reason'],
      registers,
    });
    this.throttled = new Counter({
      name: 'beamline_tenant_throttled_total',
      help: 'Jobs put back (delayed, no attempt used) because their tenant had its maximum running on this node (no tenant label: /metrics needs no key)',
      registers,
    });
    this.outputDropped = new Counter({
      name: 'beamline_job_output_dropped_total',
      help: 'Job output not kept: log lines over the rate or count limit, progress updates superseded or too large',
      labelNames: ['kind'],
      registers,
    });
    for (const reason of [
      'malformed',
      'no_such_job',
      'tenant_mismatch',
      'no_sender_tenant',
      'undeliverable',
      'overflow',
    ]) {
      this.controlRefused.inc({ reason }, 0);
    }
    for (const kind of ['log', 'progress']) this.outputDropped.inc({ kind }, 0);
    this.runSeconds = new Histogram({
      name: 'beamline_job_run_seconds',
      help: "Time from a job's process start to its exit, by function",
      labelNames: ['function'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.waitSeconds = new Histogram({
      name: 'beamline_job_wait_seconds',
      help: 'Time from submission (or the end of its delay) to the start of a run, by function',
      labelNames: ['function'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.completed = new Counter({
      name: 'beamline_jobs_completed_total',
      help: 'Jobs completed, by function',
      labelNames: ['function'],
      registers,
    });
    this.failed = new Counter({
      name: 'beamline_jobs_failed_total',
      help: 'Job runs that ended abnormally, by function and exit reason (retried or final)',
      labelNames: ['function', 'reason', 'final'],
      registers,
    });
    this.restarts = new Counter({
      name: 'beamline_job_restarts_total',
      help: 'Job runs that ended abnormally and will be restarted (with backoff, on any node)',
      labelNames: ['function'],
      registers,
    });
    this.kills = new Counter({
      name: 'beamline_kills_total',
      help: 'Job processes ended by the platform, by reason (cancelled, timeout, cpu_limit, memory_limit, killed, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    this.supervisorRestarts = new Counter({
      name: 'beamline_supervisor_restarts_total',
      help: "Children restarted by the node's supervisors",
      registers,
    });
    this.intensityExhausted = new Counter({
      name: 'beamline_supervisor_intensity_exhausted_total',
      help: 'Supervisors that reached their maximum restart intensity and gave up',
      registers,
    });
  }

  jobWait(tenant: string, fn: string, seconds: number): void {
    this.waitSeconds.observe({ function: this.functionLabels.of(tenant, fn) }, Math.max(0, seconds));
  }

  jobRun(tenant: string, fn: string, seconds: number): void {
    this.runSeconds.observe({ function: this.functionLabels.of(tenant, fn) }, seconds);
  }

  jobCompleted(tenant: string, fn: string): void {
    this.completed.inc({ function: this.functionLabels.of(tenant, fn) });
  }

  jobFailed(tenant: string, fn: string, reason: string, retried: boolean): void {
    const label = this.functionLabels.of(tenant, fn);
    this.failed.inc({ function: label, reason, final: retried ? 'false' : 'true' });
    if (retried) this.restarts.inc({ function: label });
    if (KILL_REASONS.has(reason)) this.kills.inc({ reason });
  }

  jobCpu(tenant: string, fn: string, seconds: number): void {
    this.cpuSeconds.inc({ function: this.functionLabels.of(tenant, fn) }, seconds);
  }

  jobStalled(): void {
    this.stalled.inc();
  }

  controlRefusedBy(reason: ControlRefusal, count = 1): void {
    this.controlRefused.inc({ reason }, count);
  }

  tenantThrottled(): void {
    this.throttled.inc();
  }

  outputDroppedBy(kind: 'log' | 'progress', count: number): void {
    if (count > 0) this.outputDropped.inc({ kind }, count);
  }

  jobHandedBack(): void {
    this.kills.inc({ reason: 'shutdown' });
  }

  /** Counts supervisor restarts and intensity exhaustion from the runtime's reports. */
  report(report: Report): void {
    if (report.type !== 'supervisor') return;
    if (report.event === 'child_terminated') this.supervisorRestarts.inc();
    if (report.event === 'reached_max_restart_intensity') this.intensityExhausted.inc();
  }
}
