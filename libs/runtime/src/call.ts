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

/** A `call` that got no reply: the server was gone (`noproc`), died, or took too long (`timeout`). */
export class CallError extends Error {
  constructor(
    readonly target: Pid | string,
    readonly reason: ExitReason,
  ) {
    super(`call to ${target} failed: ${reason === 'timeout' ? 'no reply in time' : describeReason(reason)}`);
    this.name = 'CallError';
  }
}
