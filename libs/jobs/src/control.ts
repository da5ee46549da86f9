import { type ExitReason, isPid, nodeOfPid, type Pid } from '@beamline/runtime';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * Control messages travel over Redis pub/sub to the node a pid names: messages and exit signals
 * for processes of other nodes, from the API or from processes anywhere. Per publisher
 * connection, Redis delivers them in order, so messages from one sender to one pid keep their
 * order. Delivery is at most once: a node that is down or disconnected misses them.
 */
export type ControlMessage =
  | { readonly type: 'send'; readonly to: Pid; readonly from: Pid; readonly message: unknown }
  | { readonly type: 'exit'; readonly to: Pid; readonly from: Pid; readonly reason: ExitReason };

/** JSON, with Errors as { name, message, stack } (cross-node messages must be JSON data). */
export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message, (_key, value: unknown) =>
    value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value,
  );
}

export function decodeControl(text: string): ControlMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const candidate = value as Partial<Record<string, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  if (!isPid(candidate.to) || !isPid(candidate.from)) return undefined;
  if (candidate.type === 'send' && 'message' in candidate) return candidate as ControlMessage;
  if (candidate.type === 'exit' && 'reason' in candidate) return candidate as ControlMessage;
  return undefined;
}

/** Publishes control messages to the node that owns the target pid. */
export class ControlPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  send(to: Pid, from: Pid, message: unknown): Promise<number> {
    return this.publish({ type: 'send', to, from, message });
  }

  exit(to: Pid, from: Pid, reason: ExitReason): Promise<number> {
    return this.publish({ type: 'exit', to, from, reason });
  }

  /** Resolves with the number of nodes that received it (0: the pid's node is not listening). */
  private publish(message: ControlMessage): Promise<number> {
    return this.redis.publish(this.keys.control(nodeOfPid(message.to) as string), encodeControl(message));
  }
}
