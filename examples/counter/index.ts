import { defineFunction, isTimeout } from '@beamline/sdk';

export interface Input {
  /** Stop when no message has come for this long (default 60 s). */
  readonly idleMs?: number;
}

/** What the process understands, sent with `beamline send <pid> '{"type":"add","amount":5}'`. */
export type Command = { readonly type: 'add'; readonly amount: number } | { readonly type: 'stop' };

export interface Output {
  readonly total: number;
  readonly added: number;
  readonly ignored: number;
  readonly stoppedBy: 'stop' | 'idle';
}

function isCommand(message: unknown): message is Command {
  const command = message as { type?: unknown; amount?: unknown } | null;
  if (typeof command !== 'object' || command === null) return false;
  return command.type === 'stop' || (command.type === 'add' && Number.isFinite(command.amount));
}

export default defineFunction<Input, Output>(async (input, ctx) => {
  const idleMs = input?.idleMs ?? 60_000;
  let total = 0;
  let added = 0;
  let ignored = 0;
  ctx.log(`counter ${ctx.self} ready on ${ctx.nodeId}`);
  for (;;) {
    const message = await ctx.receive(undefined, idleMs);
    if (isTimeout(message)) return { total, added, ignored, stoppedBy: 'idle' };
    if (!isCommand(message)) {
      ignored++;
      ctx.log(`ignored ${JSON.stringify(message)}: expected {"type":"add","amount":n} or {"type":"stop"}`, 'warn');
      continue;
    }
    if (message.type === 'stop') return { total, added, ignored, stoppedBy: 'stop' };
    total += message.amount;
    added++;
    ctx.log(`+${message.amount} → ${total}`);
    ctx.progress({ total, added });
  }
});
