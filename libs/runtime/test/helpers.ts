import { ManualClock, Node, type Pid, type ProcessBody, type Report, settle } from '../src/index.js';

export interface TestNode {
  readonly node: Node;
  readonly clock: ManualClock;
  readonly reports: Report[];
}

/** A node on manual time that records its reports. */
export function testNode(id = 'test'): TestNode {
  const clock = new ManualClock();
  const reports: Report[] = [];
  const node = new Node({ id, clock, onReport: (report) => reports.push(report) });
  return { node, clock, reports };
}

/** Lets every runnable process run until all are blocked. */
export async function idle(): Promise<void> {
  await settle();
  await settle();
}

/** A process body that waits for messages forever. */
export async function waitForever(ctx: { receive: (m: () => boolean) => Promise<unknown> }): Promise<void> {
  await ctx.receive(() => false);
}

/** A process body that links to `target` and then waits forever. */
export function linkedTo(target: Pid): ProcessBody {
  return async (ctx) => {
    ctx.link(target);
    await ctx.receive(() => false);
  };
}

/** Follows a promise: `outcome` is what it settled with (value or rejection), or 'pending'. */
export function track(promise: Promise<unknown>): { readonly outcome: unknown } {
  const tracked = { outcome: 'pending' as unknown };
  promise.then(
    (value) => {
      tracked.outcome = value;
    },
    (error) => {
      tracked.outcome = error;
    },
  );
  return tracked;
}
