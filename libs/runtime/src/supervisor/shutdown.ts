import { isDeepStrictEqual } from 'node:util';
import { type ProcessContext, TIMEOUT } from '../context.js';
import { type DownMessage, type ExitMessage, isDownMessage, isExitMessage } from '../messages.js';
import type { Pid, Ref } from '../pid.js';
import { type ExitReason, isOrderlyExit } from '../reason.js';
import type { RestartType, Shutdown } from './types.js';

export interface ShutdownOutcome {
  readonly pid: Pid;
  readonly reason: ExitReason;
  /** False when the child ended in a way that OTP reports as a shutdown_error. */
  readonly expected: boolean;
}

/**
 * OTP's unlink_flush: the reason the child really ended with, and no EXIT message left behind
 * (so a child that died during its shutdown is not later taken for a crash).
 */
async function unlinkFlush(ctx: ProcessContext, pid: Pid, downReason: ExitReason): Promise<ExitReason> {
  const fromChild = (m: unknown): m is ExitMessage => isExitMessage(m) && m.from === pid;
  if (downReason === 'noproc') {
    const exit = await ctx.receive(fromChild, 0);
    return exit === TIMEOUT ? 'child_process_unlinked' : exit.reason;
  }
  ctx.unlink(pid);
  await ctx.receive(fromChild, 0);
  return downReason;
}

function isExpected(reason: ExitReason, shutdown: Shutdown, restart: RestartType): boolean {
  const ownReasonAccepted = restart !== 'permanent' && isOrderlyExit(reason);
  return (shutdown === 'brutal_kill' ? reason === 'killed' : reason === 'shutdown') || ownReasonAccepted;
}

const downFor = (ref: Ref) => (m: unknown) => isDownMessage(m) && m.ref === ref;

/** Stops one child: kill at once, or ask with `shutdown` and kill when the time is up. */
export async function shutdownChild(
  ctx: ProcessContext,
  pid: Pid,
  shutdown: Shutdown,
  restart: RestartType,
): Promise<ShutdownOutcome> {
  const ref = ctx.monitor(pid);
  let down: DownMessage;
  if (shutdown === 'brutal_kill') {
    ctx.exit(pid, 'kill');
    down = (await ctx.receive(downFor(ref))) as DownMessage;
  } else {
    ctx.exit(pid, 'shutdown');
    const timeoutMs = shutdown === 'infinity' ? Number.POSITIVE_INFINITY : shutdown;
    const answer = await ctx.receive(downFor(ref), timeoutMs);
    if (answer === TIMEOUT) {
      ctx.exit(pid, 'kill');
      down = (await ctx.receive(downFor(ref))) as DownMessage;
    } else {
      down = answer as DownMessage;
    }
  }
  const reason = await unlinkFlush(ctx, pid, down.reason);
  return { pid, reason, expected: isExpected(reason, shutdown, restart) };
}

/**
 * Stops many children of one template at once (simple_one_for_one): every child is asked
 * together, one timer covers them all, and those left when it fires are killed.
 */
export async function shutdownChildrenInParallel(
  ctx: ProcessContext,
  pids: readonly Pid[],
  shutdown: Shutdown,
  restart: RestartType,
  now: () => number,
): Promise<ShutdownOutcome[]> {
  const pending = new Map<Ref, Pid>();
  for (const pid of pids) {
    pending.set(ctx.monitor(pid), pid);
    ctx.exit(pid, shutdown === 'brutal_kill' ? 'kill' : 'shutdown');
  }
  const deadline = typeof shutdown === 'number' ? now() + shutdown : undefined;
  let killedRest = false;
  const outcomes: ShutdownOutcome[] = [];
  const isPendingDown = (m: unknown) => isDownMessage(m) && pending.has(m.ref);
  while (pending.size > 0) {
    const waitMs = deadline === undefined || killedRest ? Number.POSITIVE_INFINITY : Math.max(0, deadline - now());
    const answer = await ctx.receive(isPendingDown, waitMs);
    if (answer === TIMEOUT) {
      for (const pid of pending.values()) ctx.exit(pid, 'kill');
      killedRest = true;
      continue;
    }
    const down = answer as DownMessage;
    const pid = pending.get(down.ref) as Pid;
    pending.delete(down.ref);
    const reason = await unlinkFlush(ctx, pid, down.reason);
    outcomes.push({ pid, reason, expected: isExpected(reason, shutdown, restart) });
  }
  return outcomes;
}

/** The unexpected outcomes grouped by reason (equal reasons, as Erlang terms compare), in order of first appearance. */
export function unexpectedByReason(
  outcomes: readonly ShutdownOutcome[],
): Array<{ readonly reason: ExitReason; readonly pids: Pid[] }> {
  const groups: Array<{ readonly reason: ExitReason; readonly pids: Pid[] }> = [];
  for (const { pid, reason, expected } of outcomes) {
    if (expected) continue;
    const group = groups.find((g) => isDeepStrictEqual(g.reason, reason));
    if (group) group.pids.push(pid);
    else groups.push({ reason, pids: [pid] });
  }
  return groups;
}
