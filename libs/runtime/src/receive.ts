import type { Clock } from './clock.js';
import { TIMEOUT } from './context.js';
import { type Mailbox, type Matcher, NOT_FOUND, type Waiter } from './mailbox.js';
import { assertTimeout } from './timeouts.js';

/** Checks receive's arguments, so both kinds of process refuse the same mistakes the same way. */
export function assertReceiveArguments(match: unknown, timeoutMs: unknown): void {
  if (match !== undefined && typeof match !== 'function') {
    throw new TypeError(`receive(match) expects a function (message) => boolean; got ${typeof match}.`);
  }
  if (timeoutMs !== undefined) assertTimeout(timeoutMs, 'receive timeout');
}

/** The process whose status follows its mailbox (waiting while a receive is pending). */
export interface MailboxOwner {
  followMailbox(): void;
}

/**
 * Erlang's `receive … after`: takes the first message `match` accepts, or waits for one. With a
 * timeout, resolves to TIMEOUT when none arrives in time (0 polls; undefined or Infinity waits
 * forever). Shared by green processes (node clock) and isolated ones (their thread's timers).
 * `owner.followMailbox()` runs when the receive starts waiting and when its timeout passes; the
 * owner's delivery path updates the status when a message ends the wait.
 */
export function receiveMessage(
  mailbox: Mailbox,
  match: Matcher | undefined,
  timeoutMs: number | undefined,
  clock: Clock,
  owner: MailboxOwner,
): Promise<unknown> {
  const found = mailbox.take(match);
  if (found !== NOT_FOUND) return Promise.resolve(found);
  if (timeoutMs === 0) return Promise.resolve(TIMEOUT);
  return new Promise((resolve, reject) => {
    if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) {
      mailbox.wait({ match, resolve, reject });
      owner.followMailbox();
      return;
    }
    const timer = clock.setTimer(timeoutMs, () => {
      mailbox.stopWaiting(waiter);
      owner.followMailbox();
      resolve(TIMEOUT);
    });
    const waiter: Waiter = {
      match,
      resolve: (message) => {
        clock.clearTimer(timer);
        resolve(message);
      },
      reject: (error) => {
        clock.clearTimer(timer);
        reject(error);
      },
    };
    mailbox.wait(waiter);
    owner.followMailbox();
  });
}
