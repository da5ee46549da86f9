import type { Pid, Ref } from './pid.js';
import type { ExitReason } from './reason.js';

/** What a process that traps exits receives instead of dying: Erlang's `{'EXIT', From, Reason}`. */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** What a monitor delivers when its target ends: Erlang's `{'DOWN', Ref, process, Pid, Reason}`. */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: Ref;
  readonly pid: Pid;
  readonly reason: ExitReason;
}

function hasType(message: unknown, type: string): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

export function isExitMessage(message: unknown): message is ExitMessage {
  return hasType(message, 'EXIT');
}

export function isDownMessage(message: unknown): message is DownMessage {
  return hasType(message, 'DOWN');
}
