import { type ExitReason, isPid, nodeOfPid, type Pid } from '@beamline/runtime';
import type { Cluster, Redis } from 'ioredis';
import { boundedJson, truncated } from './bounded-json.js';
import type { Keys } from './keys.js';
import { tenantSchema } from './schemas.js';

/**
 * The tenant stamped on control messages that operators send (the API's admin key): it may
 * reach a job of any tenant. No tenant can be named so (tenant names never start with "@").
 */
export const OPERATOR_TENANT = '@operator';

/**
 * Control messages travel over Redis pub/sub to the node a pid names: messages and exit signals
 * for processes of other nodes, from the API or from processes anywhere. Per publisher
 * connection, Redis delivers them in order, so messages from one sender to one pid keep their
 * order. Delivery is at most once: a node that is down or disconnected misses them.
 *
 * `tenant` is the SENDER's tenant, stamped by the platform, never by job code: the sending
 * worker node from its own record of which tenant each of its job processes runs for, the API
 * from the API key (OPERATOR_TENANT for the admin key). The receiving node delivers a message
 * only to one of its job processes whose tenant is `tenant` (any job for OPERATOR_TENANT).
 */
export type ControlMessage =
  | {
      readonly type: 'send';
      readonly to: Pid;
      readonly from: Pid;
      readonly tenant: string;
      readonly message: unknown;
    }
  | {
      readonly type: 'exit';
      readonly to: Pid;
      readonly from: Pid;
      readonly tenant: string;
      readonly reason: ExitReason;
    }
  | {
      /** Cancel the job `jobId` of `tenant` that the receiving node runs (routed by the job store to the job's node). */
      readonly type: 'cancel';
      readonly jobId: string;
      readonly tenant: string;
      /** The attempt that ran when the cancel was asked for (BullMQ's attemptsStarted): a later one is left alone. */
      readonly attempt?: number;
    }
  | {
      /**
       * A child job of `parent` ended (ADR 0013): the receiving node, which ran the parent when the
       * child's finishing step published this, reads the parent's ends list. Published by the job
       * store's scripts only.
       */
      readonly type: 'child';
      readonly parent: string;
      readonly child: string;
      readonly tenant: string;
    };

/** A tenant a control message may carry: a tenant name or OPERATOR_TENANT. */
export function isControlTenant(value: unknown): value is string {
  return value === OPERATOR_TENANT || tenantSchema.safeParse(value).success;
}

/** The largest control message a node publishes: job code chooses what it sends. */
export const MAX_CONTROL_BYTES = 1024 * 1024;

/**
 * JSON, with Errors as { name, message, stack } (cross-node messages must be JSON data); undefined
 * when the message, written out, would be over MAX_CONTROL_BYTES (it is not sent).
 */
export function encodeControl(message: ControlMessage): string | undefined {
  const errorsAsData = (value: unknown): unknown =>
    value instanceof Error
      ? { name: value.name, message: truncated(value.message, 8192), stack: truncated(value.stack ?? '', 32_768) }
      : value;
  const written = boundedJson(message, MAX_CONTROL_BYTES, errorsAsData);
  return written.fits ? written.text : undefined;
}

/** The message, or undefined when it is not JSON of a control message with valid pids and a stamped tenant. */
export function decodeControl(text: string): ControlMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const candidate = value as Partial<Record<string, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) return undefined;
  if (candidate.type === 'child') {
    const isJobId = (id: unknown) => typeof id === 'string' && id.length > 0 && id.length <= 100;
    const valid = isJobId(candidate.parent) && isJobId(candidate.child) && isControlTenant(candidate.tenant);
    return valid ? (candidate as ControlMessage) : undefined;
  }
  if (candidate.type === 'cancel') {
    const jobId = candidate.jobId;
    const valid =
      typeof jobId === 'string' && jobId.length > 0 && jobId.length <= 100 && isControlTenant(candidate.tenant);
    return valid ? (candidate as ControlMessage) : undefined;
  }
  if (!isPid(candidate.to) || !isPid(candidate.from) || !isControlTenant(candidate.tenant)) return undefined;
  if (candidate.type === 'send' && 'message' in candidate) return candidate as ControlMessage;
  if (candidate.type === 'exit' && 'reason' in candidate) return candidate as ControlMessage;
  return undefined;
}

/** Publishes control messages to the node that owns the target pid. */
export class ControlPublisher {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: Keys,
  ) {}

  /** `tenant`: the sender's tenant as the platform knows it (OPERATOR_TENANT for operators). */
  send(to: Pid, from: Pid, message: unknown, tenant: string): Promise<number> {
    return this.publish({ type: 'send', to, from, tenant, message });
  }

  /** `tenant`: the sender's tenant as the platform knows it (OPERATOR_TENANT for operators). */
  exit(to: Pid, from: Pid, reason: ExitReason, tenant: string): Promise<number> {
    return this.publish({ type: 'exit', to, from, tenant, reason });
  }

  /** Tells `node` to cancel the job `jobId` of `tenant` that it runs. */
  cancelJob(node: string, jobId: string, tenant: string, attempt?: number): Promise<number> {
    return this.publish({ type: 'cancel', jobId, tenant, ...(attempt === undefined ? {} : { attempt }) }, node);
  }

  /** Resolves with the number of nodes that received it (0: the pid's node is not listening). */
  private publish(message: ControlMessage, node?: string): Promise<number> {
    if (!isControlTenant(message.tenant)) {
      return Promise.reject(new TypeError(`control messages need the sender's tenant; got ${String(message.tenant)}`));
    }
    const text = encodeControl(message);
    if (text === undefined) {
      return Promise.reject(
        new RangeError(`a control message is at most ${MAX_CONTROL_BYTES} bytes of JSON; this one is larger`),
      );
    }
    const target = node ?? (message.type === 'cancel' || message.type === 'child' ? undefined : nodeOfPid(message.to));
    if (target === undefined) return Promise.reject(new TypeError('a control message needs a target node'));
    return this.redis.publish(this.keys.control(target), text);
  }
}
