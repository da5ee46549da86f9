import { Worker } from 'node:worker_threads';
import { ThreadCpuClock } from './os-thread.js';
import { type FromThread, SHARED, SHARED_SLOTS, type ToThread } from './protocol.js';

/** How an isolate thread ended on its own (not terminated by the scheduler). */
export type ThreadDeath =
  | { readonly kind: 'out_of_memory'; readonly error: Error }
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'exit'; readonly code: number };

export interface ThreadEvents {
  /** The thread has started and knows its OS thread id. */
  onReady(thread: IsolateThread): void;
  /** A message from the thread. */
  onMessage(thread: IsolateThread, message: FromThread): void;
  /** The thread died without being asked to. */
  onDeath(thread: IsolateThread, death: ThreadDeath): void;
}

export interface ThreadSettings {
  readonly script: URL;
  /** Heap limit (V8 old generation), megabytes; undefined for V8's default. */
  readonly memoryMb: number | undefined;
  readonly heapSampleMs: number;
}

/** A worker thread on the main thread's side: one V8 isolate that runs one process at a time. */
export class IsolateThread {
  readonly worker: Worker;
  readonly shared: Int32Array;
  readonly memoryMb: number | undefined;
  /** Linux thread id, once the thread has reported it. */
  tid: number | undefined;
  /** The nice value last applied to the thread. */
  nice: number | undefined;
  /** The function version whose module this thread has loaded. */
  moduleId: string | undefined;
  /** Serial of the invocation running or last run; messages carrying another serial are stale. */
  serial = 0;
  /** True from the moment the scheduler terminates the thread or the thread dies. */
  dead = false;
  /** True once the scheduler has asked the thread to terminate (as opposed to it dying). */
  terminated = false;
  /** Set when work left by an ended invocation faulted: the thread is not reused. */
  tainted = false;
  ready = false;
  private cpuClock: ThreadCpuClock | undefined;

  constructor(settings: ThreadSettings, events: ThreadEvents) {
    this.memoryMb = settings.memoryMb;
    const buffer = new SharedArrayBuffer(SHARED_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.shared = new Int32Array(buffer);
    this.worker = new Worker(settings.script, {
      workerData: { shared: buffer, heapSampleMs: settings.heapSampleMs },
      ...(settings.memoryMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: settings.memoryMb } }),
    });
    this.worker.on('message', (message: FromThread) => {
      if (message.t === 'ready') {
        this.tid = message.tid;
        this.ready = true;
        if (message.tid !== undefined && !this.dead) this.cpuClock = new ThreadCpuClock(message.tid);
        events.onReady(this);
      } else {
        events.onMessage(this, message);
      }
    });
    this.worker.on('error', (error: Error & { code?: string }) => {
      if (this.dead) return;
      this.markDead();
      const kind = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out_of_memory' : 'error';
      events.onDeath(this, { kind, error });
    });
    this.worker.on('exit', (code) => {
      this.cpuClock?.close();
      if (this.dead) return;
      this.markDead();
      events.onDeath(this, { kind: 'exit', code });
    });
  }

  post(message: ToThread): void {
    this.worker.postMessage(message);
  }

  /** Nanoseconds of CPU the thread has used since it started (undefined off Linux or once gone). */
  cpuNs(): number | undefined {
    return this.cpuClock?.read();
  }

  get queueLength(): number {
    return Math.max(0, Atomics.load(this.shared, SHARED.queueLength));
  }

  get waiting(): boolean {
    return Atomics.load(this.shared, SHARED.waiting) === 1;
  }

  get heapBytes(): number {
    return Atomics.load(this.shared, SHARED.heapKiB) * 1024;
  }

  /** Starts counting messages for a new invocation. */
  resetCounters(): void {
    Atomics.store(this.shared, SHARED.queueLength, 0);
    Atomics.store(this.shared, SHARED.waiting, 0);
  }

  /** Counts messages posted to (or, with -1, withdrawn from) the current invocation's queue. */
  countPosted(delta: 1 | -1): void {
    Atomics.add(this.shared, SHARED.queueLength, delta);
  }

  /** Stops the thread at whatever instruction it is on; resolves once it is gone. */
  async terminate(): Promise<void> {
    this.terminated = true;
    this.markDead();
    await this.worker.terminate();
  }

  private markDead(): void {
    this.dead = true;
    this.cpuClock?.close();
    this.cpuClock = undefined;
  }

  /** Idle threads must not keep the OS process alive; busy ones do. */
  hold(busy: boolean): void {
    if (busy) this.worker.ref();
    else this.worker.unref();
  }
}
