import type { Pid, Ref } from '../pid.js';
import type { Priority } from '../priority.js';
import type { ExitReason } from '../reason.js';
import type { StartJobOptions } from './job-tree.js';
import type { SandboxOutputKind, SandboxOutputRates } from './output-limits.js';
import type { TransferredError } from './transfer.js';

/**
 * The messages between a node and its sandbox processes. Every message about an invocation
 * carries its serial, so that what a finished invocation left in flight is dropped instead of
 * reaching the next one on a reused sandbox. Everything a sandbox sends is untrusted: the node
 * checks each message (validate-message.ts) before it acts on it.
 */

/**
 * The largest serialized size of the messages a job can send many of: the node reads each on its
 * main thread, and reading a value of many small parts costs it up to about 0.3 µs a byte (a
 * review held the node 8 s with one 16 MiB Map sent by startJob). Logs and progress are output,
 * not data; messages, spawns and child jobs carry at most what the API accepts in one request (1
 * MiB). Bigger ones are refused in the sandbox (an error to the caller) and, should a sandbox send
 * one anyway, by the node (it is killed). A result (`done`) may be up to the node's largest
 * message: one per run.
 */
export const OUTPUT_MESSAGE_BYTES: Partial<Record<string, number>> = {
  log: 64 * 1024,
  progress: 64 * 1024,
  exit: 64 * 1024,
  send: 1024 * 1024,
  spawn: 1024 * 1024,
  startJob: 1024 * 1024,
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** startJob and awaitJob calls of one process the node holds unanswered at once (a parent awaiting all its children fits). */
export const MAX_JOB_REQUESTS_IN_FLIGHT = 2048;

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
      /** Rates beyond which the sandbox drops logs and progress itself, before posting them. */
      readonly output: SandboxOutputRates;
    }
  | { readonly t: 'msg'; readonly serial: number; readonly message: unknown }
  | {
      readonly t: 'reply';
      readonly serial: number;
      readonly id: number;
      readonly value?: unknown;
      readonly error?: TransferredError;
    }
  | {
      readonly t: 'fetched';
      readonly serial: number;
      readonly id: number;
      readonly response?: FetchResponse;
      readonly error?: string;
    };

/** An outbound HTTP request a job makes with `fetch`; the node performs it under its egress policy. */
export interface FetchRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

export interface FetchResponse {
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  readonly redirected: boolean;
}

export type Outcome =
  | { readonly kind: 'return'; readonly value: unknown }
  | { readonly kind: 'exit'; readonly reason: ExitReason }
  | { readonly kind: 'throw'; readonly error: TransferredError };

export type Fault = 'uncaught_exception' | 'unhandled_rejection';

export type FromThread =
  | { readonly t: 'ready' }
  /** Messages the body took from its mailbox (a running count) and whether it waits in receive. */
  | { readonly t: 'status'; readonly serial: number; readonly taken: number; readonly waiting: boolean }
  | { readonly t: 'fetch'; readonly serial: number; readonly id: number; readonly request: FetchRequest }
  | {
      readonly t: 'done';
      readonly serial: number;
      readonly outcome: Outcome;
      /** False when the invocation left timers, sockets or other work behind on the thread. */
      readonly reusable: boolean;
      /** Output the sandbox dropped (beyond its rates) during the invocation, by kind. */
      readonly dropped: Readonly<Record<SandboxOutputKind, number>>;
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
  | {
      readonly t: 'startJob';
      readonly serial: number;
      readonly id: number;
      readonly fn: string;
      readonly input: unknown;
      readonly options: StartJobOptions;
    }
  | { readonly t: 'awaitJob'; readonly serial: number; readonly id: number; readonly job: string }
  | { readonly t: 'progress'; readonly serial: number; readonly value: unknown }
  | { readonly t: 'log'; readonly serial: number; readonly level: LogLevel; readonly message: unknown };
