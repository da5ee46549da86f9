import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';

/** The BullMQ release whose scripts ours wrap (package.json pins it; a test checks the two agree). */
export const BULLMQ_VERSION = '6.7.0';

interface BullmqScript {
  readonly name: string;
  readonly content: string;
  readonly keys: number;
}

const require = createRequire(import.meta.url);
const bullmqScripts = require('bullmq/dist/cjs/scripts/index.js') as Record<string, BullmqScript>;

/** BullMQ's script `name` as a Lua function of (KEYS, ARGV): the same text, callable from ours. */
function bullmqFunction(name: string): string {
  const script = bullmqScripts[name];
  if (!script) throw new Error(`BullMQ ${BULLMQ_VERSION} has no script "${name}"`);
  return `local function bullmq_${name}(KEYS, ARGV)\n${script.content}\nend\n`;
}

/** One of our scripts with its `--- @bullmq <name>` lines replaced by BullMQ's script of that name, `--- @include <name>` by commands/includes/<name>.lua. */
export function composedScript(file: string): string {
  const source = readFileSync(new URL(`./commands/${file}.lua`, import.meta.url), 'utf8');
  return source
    .replace(/^--- @bullmq (\w+)$/gm, (_line, name: string) => bullmqFunction(name))
    .replace(/^--- @include (\w+)$/gm, (_line, name: string) =>
      readFileSync(new URL(`./commands/includes/${name}.lua`, import.meta.url), 'utf8'),
    );
}

export type RedisClient = Redis | Cluster;

/**
 * BullMQ's state changes that open or end a job, replaced on `client` by ours of the same keys
 * and arguments (each BullMQ's own script plus the tenant's backlog in the same step). BullMQ
 * defines a script on a connection only when it is not defined yet, so a Queue or Worker given
 * this connection runs ours.
 */
const OVERRIDES = {
  moveToActive: 'moveToActive',
  moveToFinished: 'moveToFinished',
  moveToDelayed: 'moveToDelayed',
  retryJob: 'retryRun',
  reprocessJob: 'reprocessJob',
  removeJob: 'removeJob',
  updateJobScheduler: 'updateJobScheduler',
  removeJobScheduler: 'removeJobScheduler',
} as const;

/** Our own steps: command name → script file (the number of keys is given per call). */
const COMMANDS = {
  beamlineSubmit: 'submit',
  beamlineCancel: 'cancelJob',
  beamlineRetry: 'retryJob',
  beamlineGetJob: 'getJob',
  beamlineCascade: 'cascadeCancel',
  beamlineUpsertSchedule: 'upsertSchedule',
  beamlinePauseSchedule: 'pauseSchedule',
  beamlineDeleteSchedule: 'deleteSchedule',
  beamlineAdmit: 'admitJob',
  beamlineRequeueAddedBack: 'requeueAddedBack',
  beamlineUnpark: 'unparkFunction',
} as const;

export interface StoreCommands {
  beamlineSubmit(keyCount: number, ...args: Array<string | number | Buffer>): Promise<unknown[]>;
  beamlineCancel(keyCount: number, ...args: Array<string | number>): Promise<string[]>;
  beamlineRetry(keyCount: number, ...args: Array<string | number>): Promise<number[]>;
  beamlineGetJob(keyCount: number, ...args: Array<string | number>): Promise<string[]>;
  beamlineCascade(keyCount: number, ...args: Array<string | number>): Promise<number>;
  beamlineAdmit(keyCount: number, ...args: Array<string | number>): Promise<unknown[]>;
  beamlineRequeueAddedBack(keyCount: number, ...args: Array<string | number>): Promise<number>;
  beamlineUnpark(keyCount: number, ...args: Array<string | number>): Promise<number>;
}

/** Defines our scripts on `client` (once) and returns it typed with them. */
export function withStoreCommands<T extends RedisClient>(client: T): T & StoreCommands {
  const commands = client as T & Record<string, unknown>;
  for (const [name, file] of Object.entries(OVERRIDES)) {
    const versioned = `${name}:${BULLMQ_VERSION}`;
    if (commands[versioned] === undefined) {
      const keys = bullmqScripts[name]?.keys;
      if (keys === undefined) throw new Error(`BullMQ ${BULLMQ_VERSION} has no script "${name}"`);
      client.defineCommand(versioned, { numberOfKeys: keys, lua: composedScript(file) });
    }
  }
  for (const [name, file] of Object.entries(COMMANDS)) {
    if (commands[name] === undefined) client.defineCommand(name, { lua: composedScript(file) });
  }
  return client as T & StoreCommands;
}
