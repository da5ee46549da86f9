import type { DownMessage, ExitMessage, Timeout } from './context.js';

/** The description of the symbol the runtime's `receive` resolves to when its timeout passes. */
const TIMEOUT_DESCRIPTION = 'beamline.receive.timeout';

/** Whether `receive` gave up waiting: its timeout passed before a matching message arrived. */
export function isTimeout(value: unknown): value is Timeout {
  return typeof value === 'symbol' && value.description === TIMEOUT_DESCRIPTION;
}

function hasType(message: unknown, type: string): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** An exit signal turned into a message (the process traps exits). */
export function isExitMessage(message: unknown): message is ExitMessage {
  return hasType(message, 'EXIT');
}

/** A monitored process has ended. */
export function isDownMessage(message: unknown): message is DownMessage {
  return hasType(message, 'DOWN');
}
