import type { Pid } from './pid.js';
import { describeReason, type ExitReason } from './reason.js';

/** A process started with an init phase ended before it said it was ready. */
export class StartError extends Error {
  constructor(
    readonly pid: Pid,
    readonly reason: ExitReason,
    message = `process ${pid} failed to start: ${describeReason(reason)}`,
  ) {
    super(message);
    this.name = 'StartError';
  }
}
