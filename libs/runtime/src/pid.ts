import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';

/** A process identifier: `<node-id>.<serial>`, unique across every node of a cluster. */
export type Pid = string;

/** A unique reference (monitor refs, call refs): `<node-id>:<serial>`. */
export type Ref = string;

const NODE_ID = /^[A-Za-z0-9_-]{1,100}$/;
const PID = /^([A-Za-z0-9_-]{1,100})\.(\d+)$/;

export function assertValidNodeId(id: string): void {
  if (!NODE_ID.test(id)) {
    throw new TypeError(
      `Invalid node id ${JSON.stringify(id)}: use 1 to 100 characters among letters, digits, "_" and "-" (no dots, since a pid is "<node-id>.<serial>").`,
    );
  }
}

/** A node id that is unique in practice: host name, OS pid and random bits. */
export function generateNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 40) || 'node';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function isPid(value: unknown): value is Pid {
  return typeof value === 'string' && PID.test(value);
}

/** The id of the node that owns `pid`, or undefined when `pid` is not a pid. */
export function nodeOfPid(pid: string): string | undefined {
  return PID.exec(pid)?.[1];
}
