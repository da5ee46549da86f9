import {
  type ChildSpec,
  type ChildStart,
  isExitMessage,
  isShutdownReason,
  type Pid,
  type ProcessContext,
  type SupervisorClient,
} from '../../src/index.js';
import type { TestNode } from '../helpers.js';

/**
 * The test child of OTP's supervisor_SUITE (supervisor_1): traps exits; `die` ends it with
 * `died`, `stop` ends it normally, `{ exitWith }` with that reason; a shutdown from its
 * supervisor ends it with that shutdown reason; `hang` makes it ignore everything from then on.
 */
export async function testWorker(ctx: ProcessContext): Promise<void> {
  ctx.trapExit(true);
  for (;;) {
    const message = await ctx.receive();
    if (message === 'die') ctx.exit('died');
    if (message === 'stop') return;
    if (message === 'hang') await ctx.receive(() => false);
    if (isExitMessage(message) && isShutdownReason(message.reason)) ctx.exit(message.reason);
    if (typeof message === 'object' && message !== null && 'exitWith' in message) ctx.exit(message.exitWith);
  }
}

export const startTestWorker: ChildStart = (ctx) => ctx.spawnLink(testWorker, { label: 'testWorker' });

export function child(id: string, spec: Omit<ChildSpec, 'id' | 'start'> & { start?: ChildStart } = {}): ChildSpec {
  return { start: startTestWorker, ...spec, id };
}

/** A start function that starts once and fails on every later call (supervisor_1:start_child(error)). */
export function startsOnceThenFails(): ChildStart {
  let started = false;
  return (ctx) => {
    if (started) return { error: 'start_refused' };
    started = true;
    return ctx.spawnLink(testWorker);
  };
}

/** A start function whose failure is switched from the test (supervisor_deadlock's fail_start flag). */
export function switchableStart(options: { failDelayMs?: number } = {}): ChildStart & { fail: boolean } {
  const start = (async (ctx: ProcessContext) => {
    if (start.fail) {
      if (options.failDelayMs) await ctx.sleep(options.failDelayMs);
      return { error: 'error' };
    }
    return ctx.spawnLink(testWorker);
  }) as ChildStart & { fail: boolean };
  start.fail = false;
  return start;
}

export type How = 'kill' | 'abnormal' | 'normal' | 'shutdown' | { readonly shutdown: unknown } | 'supervisor';

/**
 * Ends a child the way OTP's suite does and waits until the supervisor has handled the exit
 * (a request to the supervisor is answered only after the EXIT queued before it).
 */
export async function terminate(
  { node }: TestNode,
  sup: SupervisorClient,
  pid: Pid,
  how: How,
  id?: string,
): Promise<unknown> {
  if (how === 'supervisor') {
    await sup.terminateChild(id ?? pid);
    return 'shutdown';
  }
  const exited = node.waitExit(pid);
  if (how === 'kill') node.exit(pid, 'kill');
  else if (how === 'abnormal') node.send(pid, 'die');
  else if (how === 'normal') node.send(pid, 'stop');
  else node.send(pid, { exitWith: how });
  const reason = await exited;
  await sup.countChildren();
  return reason;
}

/** [specs, active, supervisors, workers], as the suite's get_child_counts. */
export async function counts(sup: SupervisorClient): Promise<[number, number, number, number]> {
  const c = await sup.countChildren();
  return [c.specs, c.active, c.supervisors, c.workers];
}

export async function pidOf(sup: SupervisorClient, id: string): Promise<Pid> {
  const result = await sup.whichChild(id);
  if (!result.ok || typeof result.child.pid !== 'string' || result.child.pid === 'restarting') {
    throw new Error(`child ${id} is not running: ${JSON.stringify(result)}`);
  }
  return result.child.pid;
}
