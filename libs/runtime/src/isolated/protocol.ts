import type { Pid, Ref } from '../pid.js';
import type { Priority } from '../priority.js';
import type { ExitReason } from '../reason.js';
import type { TransferredError } from './transfer.js';

/**
 * The messages between the node's main thread and an isolate thread. Every message about an
 * invocation carries its serial, so that what a finished invocation left in flight is dropped
 * instead of reaching the next one on a reused thread.
 */

/** Slots of the Int32Array that each thread shares with the main thread. */
export const SHARED = {
  /** Messages posted to the process and not yet taken by a receive. */
  queueLength: 0,
  /** 1 while the body waits in receive. */
  waiting: 1,
  /** V8 heap used by the isolate, in KiB, sampled. */
  heapKiB: 2,
} as const;
export const SHARED_SLOTS = 4;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Options an isolated body may give when it spawns another function. */
export interface ThreadSpawnOptions {
  readonly priority?: Priority;
  readonly trapExit?: boolean;
  readonly timeoutMs?: number;
  readonly cpuMs?: number;
  readonly memoryMb?: number;
}

export type ToThread =
  | {
      readonly t: 'invoke';
      readonly serial: number;
      readonly pid: Pid;
      readonly nodeId: string;
      readonly moduleId: string;
      /** Sent only when the thread has not loaded this module yet. */
      readonly source: string | undefined;
      readonly input: unknown;
      readonly trapExit: boolean;
    }
  | { readonly t: 'msg'; readonly serial: number; readonly message: unknown }
  | {
      readonly t: 'reply';
      readonly serial: number;
      readonly id: number;
      readonly value?: unknown;
      readonly error?: TransferredError;
    };

export type Outcome =
  | { readonly kind: 'return'; readonly value: unknown }
  | { readonly kind: 'exit'; readonly reason: ExitReason }
  | { readonly kind: 'throw'; readonly error: TransferredError };

export type Fault = 'uncaught_exception' | 'unhandled_rejection';

export type FromThread =
  | { readonly t: 'ready'; readonly tid: number | undefined }
  | {
      readonly t: 'done';
      readonly serial: number;
      readonly outcome: Outcome;
      /** False when the invocation left timers, sockets or other work behind on the thread. */
      readonly reusable: boolean;
    }
  | { readonly t: 'fault'; readonly serial: number; readonly fault: Fault; readonly error: TransferredError }
  | { readonly t: 'send'; readonly serial: number; readonly to: Pid | string; readonly message: unknown }
  | { readonly t: 'exit'; readonly serial: number; readonly to: Pid; readonly reason: ExitReason }
  | { readonly t: 'link' | 'unlink'; readonly serial: number; readonly pid: Pid }
  | { readonly t: 'monitor'; readonly serial: number; readonly ref: Ref; readonly target: Pid | string }
  | { readonly t: 'demonitor'; readonly serial: number; readonly ref: Ref }
  | { readonly t: 'trap'; readonly serial: number; readonly on: boolean }
  | {
      readonly t: 'spawn';
      readonly serial: number;
      readonly id: number;
      readonly fn: string;
      readonly input: unknown;
      readonly options: ThreadSpawnOptions;
      readonly relation: 'none' | 'link' | 'monitor';
      readonly ref: Ref | undefined;
    }
  | { readonly t: 'progress'; readonly serial: number; readonly value: unknown }
  | { readonly t: 'log'; readonly serial: number; readonly level: LogLevel; readonly message: unknown };
