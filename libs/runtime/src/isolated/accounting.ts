import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Priority } from '../priority.js';

/** The delay monitor's timer period; what it records beyond this is lag. */
const DELAY_RESOLUTION_MS = 10;

interface Sample {
  readonly wallMs: number;
  readonly cpuNs: number;
  readonly mainActiveMs: number;
  readonly mainIdleMs: number;
}

export interface MainThreadStats {
  /** Event-loop utilization of the node's main thread over the window (0–1). */
  readonly utilization: number;
  /** Event-loop delay over the current window, milliseconds. */
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /**
   * Milliseconds, since the node started, by which the sampler's ticks came late beyond
   * STALL_MS: time the main thread was held. A counter, so that a stall shows however long after
   * it a scrape comes (the lag figures cover the current window only).
   */
  readonly stalledMs: number;
}

/** Lateness of a sampler tick beyond which the main thread counts as stalled. */
const STALL_MS = 50;

/**
 * CPU time of process threads and the main thread's event loop, over a sliding window:
 * utilization = CPU time of process threads / (cores × wall time), the analogue of the BEAM's
 * scheduler_wall_time.
 */
export class Accounting {
  readonly cpuNsByPriority: Record<Priority, number> = { max: 0, high: 0, normal: 0, low: 0 };
  private readonly samples: Sample[] = [];
  private pendingNs = 0;
  private lastTick = performance.now();
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  private delayResetAt = performance.now();

  private stalledMs = 0;

  constructor(
    private readonly cores: number,
    private readonly windowMs: number,
    /** How often tick() is called: a tick later than this by more than STALL_MS was held up. */
    private readonly tickMs: number,
  ) {
    this.delay.enable();
  }

  /** CPU time a process thread used, attributed to the priority of the process it ran. */
  addCpu(priority: Priority, ns: number): void {
    if (!(ns > 0)) return;
    this.cpuNsByPriority[priority] += ns;
    this.pendingNs += ns;
  }

  /** Closes the current sample; the window keeps the samples of the last `windowMs`. */
  tick(): void {
    const now = performance.now();
    const late = now - this.lastTick - this.tickMs;
    if (late > STALL_MS) this.stalledMs += late;
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    this.samples.push({
      wallMs: now - this.lastTick,
      cpuNs: this.pendingNs,
      mainActiveMs: elu.active,
      mainIdleMs: elu.idle,
    });
    this.pendingNs = 0;
    this.lastTick = now;
    let covered = 0;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      covered += (this.samples[i] as Sample).wallMs;
      if (covered >= this.windowMs) {
        this.samples.splice(0, i);
        break;
      }
    }
    if (now - this.delayResetAt >= this.windowMs) {
      this.delay.reset();
      this.delayResetAt = now;
    }
  }

  /** Scheduler utilization over the window, 0–1. */
  utilization(): number {
    let wallMs = 0;
    let cpuNs = 0;
    for (const sample of this.samples) {
      wallMs += sample.wallMs;
      cpuNs += sample.cpuNs;
    }
    return wallMs > 0 ? cpuNs / 1e6 / (this.cores * wallMs) : 0;
  }

  mainThread(): MainThreadStats {
    let active = 0;
    let idle = 0;
    for (const sample of this.samples) {
      active += sample.mainActiveMs;
      idle += sample.mainIdleMs;
    }
    const toMs = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) : 0);
    const counted = this.delay.count > 0;
    return {
      utilization: active + idle > 0 ? active / (active + idle) : 0,
      lagMs: {
        p50: counted ? toMs(this.delay.percentile(50)) : 0,
        p99: counted ? toMs(this.delay.percentile(99)) : 0,
        max: counted ? toMs(this.delay.max) : 0,
      },
      stalledMs: this.stalledMs,
    };
  }

  close(): void {
    this.delay.disable();
  }
}
