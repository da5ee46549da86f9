import type { ProcessContext } from '../context.js';
import { NameTakenError } from '../errors.js';
import { isPid, type Pid } from '../pid.js';
import { type ExitReason, ProcessExit } from '../reason.js';
import { StartError } from '../start-error.js';
import type { ResolvedChildSpec } from './types.js';

export type StartOutcome =
  | { readonly kind: 'started'; readonly pid: Pid; readonly info?: unknown }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'failed'; readonly reason: ExitReason };

/** OTP's {already_started, Pid}: the child's registered name is held by a process outside the supervisor. */
export function alreadyStartedPid(reason: ExitReason): Pid | undefined {
  const holder = (reason as { alreadyStarted?: unknown } | null)?.alreadyStarted;
  return typeof reason === 'object' && isPid(holder) ? holder : undefined;
}

/**
 * Runs a child's start function inside the supervisor and normalises what it returns. The
 * supervisor links to the new child itself, so a start function that forgot to link cannot
 * leave an unsupervised child.
 */
export async function startChildProcess(
  ctx: ProcessContext,
  spec: ResolvedChildSpec,
  args: readonly unknown[],
): Promise<StartOutcome> {
  let result: unknown;
  try {
    result = await spec.start(ctx, ...args);
  } catch (error) {
    if (error instanceof ProcessExit && error.pid === ctx.self) throw error;
    if (error instanceof NameTakenError) return { kind: 'failed', reason: { alreadyStarted: error.holder } };
    return { kind: 'failed', reason: error instanceof StartError ? error.reason : { error } };
  }
  if (result === 'ignore') return { kind: 'ignored' };
  if (isPid(result)) {
    ctx.link(result);
    return { kind: 'started', pid: result };
  }
  if (typeof result === 'object' && result !== null) {
    if ('error' in result) return { kind: 'failed', reason: (result as { error: ExitReason }).error };
    const { pid, info } = result as { pid?: unknown; info?: unknown };
    if (isPid(pid)) {
      ctx.link(pid);
      return { kind: 'started', pid, info };
    }
  }
  return { kind: 'failed', reason: { badReturn: result } as ExitReason };
}
