import {
  AUTO_SHUTDOWNS,
  type AutoShutdown,
  type ChildSpec,
  RESTART_TYPES,
  type ResolvedChildSpec,
  type ResolvedFlags,
  STRATEGIES,
} from './types.js';

/** A supervisor flag or child spec that cannot be used; `field` is the path of the culprit. */
export class SupervisorSpecError extends TypeError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'SupervisorSpecError';
  }
}

const FLAG_KEYS = new Set(['strategy', 'intensity', 'periodMs', 'autoShutdown']);
const SPEC_KEYS = new Set(['id', 'start', 'restart', 'shutdown', 'type', 'significant']);

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknownKeys(value: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new SupervisorSpecError(`${where}.${key}`, `unknown field; the known fields are ${[...known].join(', ')}.`);
    }
  }
}

/** Checks the flags in OTP's order (strategy, intensity, period, auto_shutdown) and fills in defaults. */
export function resolveFlags(flags: unknown, where = 'flags'): ResolvedFlags {
  if (flags === undefined) flags = {};
  if (!isPlainObject(flags)) throw new SupervisorSpecError(where, `must be an object; got ${show(flags)}.`);
  rejectUnknownKeys(flags, FLAG_KEYS, where);
  const { strategy = 'one_for_one', intensity = 1, periodMs = 5000, autoShutdown = 'never' } = flags;
  if (!STRATEGIES.includes(strategy as never)) {
    throw new SupervisorSpecError(
      `${where}.strategy`,
      `must be one of ${STRATEGIES.join(', ')}; got ${show(strategy)}.`,
    );
  }
  if (!Number.isSafeInteger(intensity) || (intensity as number) < 0) {
    throw new SupervisorSpecError(
      `${where}.intensity`,
      `must be an integer ≥ 0 (restarts allowed per period); got ${show(intensity)}.`,
    );
  }
  if (!Number.isSafeInteger(periodMs) || (periodMs as number) <= 0) {
    throw new SupervisorSpecError(`${where}.periodMs`, `must be an integer > 0 (milliseconds); got ${show(periodMs)}.`);
  }
  if (!AUTO_SHUTDOWNS.includes(autoShutdown as never)) {
    throw new SupervisorSpecError(
      `${where}.autoShutdown`,
      `must be one of ${AUTO_SHUTDOWNS.join(', ')}; got ${show(autoShutdown)}.`,
    );
  }
  if (strategy === 'simple_one_for_one' && autoShutdown !== 'never') {
    throw new SupervisorSpecError(
      `${where}.autoShutdown`,
      `must be never with strategy simple_one_for_one (as in OTP 27+: dynamic children come and go, so no set of significant children exists to end the supervisor); got ${show(autoShutdown)}.`,
    );
  }
  return {
    strategy: strategy as ResolvedFlags['strategy'],
    intensity: intensity as number,
    periodMs: periodMs as number,
    autoShutdown: autoShutdown as AutoShutdown,
  };
}

/** Checks a child spec in OTP's order (id, start, restart, significant, type, shutdown) and fills in defaults. */
export function resolveChildSpec(spec: unknown, autoShutdown: AutoShutdown, where = 'spec'): ResolvedChildSpec {
  if (!isPlainObject(spec)) {
    throw new SupervisorSpecError(where, `a child spec must be an object { id, start, … }; got ${show(spec)}.`);
  }
  rejectUnknownKeys(spec, SPEC_KEYS, where);
  const { id, start, restart = 'permanent', significant = false, type = 'worker' } = spec;
  if (id === undefined) throw new SupervisorSpecError(`${where}.id`, 'is missing; every child needs an id.');
  if (typeof id !== 'string' || id.length === 0) {
    throw new SupervisorSpecError(`${where}.id`, `must be a non-empty string; got ${show(id)}.`);
  }
  if (start === undefined) {
    throw new SupervisorSpecError(`${where}.start`, 'is missing; give a function (ctx) => pid that starts the child.');
  }
  if (typeof start !== 'function') {
    throw new SupervisorSpecError(`${where}.start`, `must be a function (ctx) => pid; got ${show(start)}.`);
  }
  if (!RESTART_TYPES.includes(restart as never)) {
    throw new SupervisorSpecError(
      `${where}.restart`,
      `must be one of ${RESTART_TYPES.join(', ')}; got ${show(restart)}.`,
    );
  }
  if (typeof significant !== 'boolean') {
    throw new SupervisorSpecError(`${where}.significant`, `must be true or false; got ${show(significant)}.`);
  }
  if (significant && autoShutdown === 'never') {
    throw new SupervisorSpecError(
      `${where}.significant`,
      'cannot be true when the supervisor autoShutdown is never (set autoShutdown to any_significant or all_significant).',
    );
  }
  if (significant && restart === 'permanent') {
    throw new SupervisorSpecError(
      `${where}.significant`,
      'cannot be true for a permanent child (a significant child must be transient or temporary).',
    );
  }
  if (type !== 'worker' && type !== 'supervisor') {
    throw new SupervisorSpecError(`${where}.type`, `must be worker or supervisor; got ${show(type)}.`);
  }
  const shutdown = spec.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000);
  const validShutdown =
    shutdown === 'brutal_kill' ||
    shutdown === 'infinity' ||
    (Number.isSafeInteger(shutdown) && (shutdown as number) >= 0);
  if (!validShutdown) {
    throw new SupervisorSpecError(
      `${where}.shutdown`,
      `must be brutal_kill, infinity or an integer ≥ 0 (milliseconds to wait before killing); got ${show(shutdown)}.`,
    );
  }
  return {
    id,
    start: start as ResolvedChildSpec['start'],
    restart: restart as ResolvedChildSpec['restart'],
    shutdown: shutdown as ResolvedChildSpec['shutdown'],
    type,
    significant,
  };
}

/** Checks the children given at start: each spec, then unique ids; simple_one_for_one needs exactly one. */
export function resolveChildSpecs(children: unknown, flags: ResolvedFlags): ResolvedChildSpec[] {
  if (!Array.isArray(children)) {
    throw new SupervisorSpecError('children', `must be an array of child specs; got ${show(children)}.`);
  }
  if (flags.strategy === 'simple_one_for_one' && children.length !== 1) {
    throw new SupervisorSpecError(
      'children',
      `a simple_one_for_one supervisor needs exactly one child spec (the template); got ${children.length}.`,
    );
  }
  const resolved = children.map((child, i) => resolveChildSpec(child, flags.autoShutdown, `children[${i}]`));
  const seen = new Set<string>();
  resolved.forEach((child, i) => {
    if (seen.has(child.id)) throw new SupervisorSpecError(`children[${i}].id`, `duplicate child id "${child.id}".`);
    seen.add(child.id);
  });
  return resolved;
}

export type { ChildSpec };
