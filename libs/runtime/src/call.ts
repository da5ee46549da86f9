import type { CallFrom, CallMessage } from './context.js';
import type { Pid, Ref } from './pid.js';
import { describeReason, type ExitReason } from './reason.js';

export interface ReplyMessage {
  readonly type: '$reply';
  readonly ref: Ref;
  readonly value: unknown;
}

export function isCallMessage(message: unknown): message is CallMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === '$call';
}

export function isReplyMessage(message: unknown): message is ReplyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === '$reply';
}

export function callMessage(from: CallFrom, request: unknown): CallMessage {
  return { type: '$call', from, request };
}

export function replyMessage(ref: Ref, value: unknown): ReplyMessage {
  return { type: '$reply', ref, value };
}

/**
 * A `call` that got no reply: the server was gone (`noproc`), died (its exit reason), took too
 * long (`timeout`), or was the caller itself (`calling_self`, failed at once as OTP's gen:call).
 */
export class CallError extends Error {
  constructor(
    readonly target: Pid | string,
    readonly reason: ExitReason,
  ) {
    super(`call to ${target} failed: ${explainCallFailure(reason)}`);
    this.name = 'CallError';
  }
}

function explainCallFailure(reason: ExitReason): string {
  if (reason === 'timeout') return 'no reply in time';
  if (reason === 'calling_self') return 'calling_self (a process cannot wait for its own reply)';
  return describeReason(reason);
}
