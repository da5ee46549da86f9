import type { ProcessContext } from '../context.js';
import { isPid, type Pid } from '../pid.js';
import type { ExitReason } from '../reason.js';
import { StartError } from '../start-error.js';
import type { ResolvedChildSpec } from './types.js';

export type StartOutcome =
  | { readonly kind: 'started'; readonly pid: Pid; readonly info?: unknown }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'failed'; readonly reason: ExitReason };

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
