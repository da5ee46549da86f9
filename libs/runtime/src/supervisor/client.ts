import type { ProcessBody, ProcessContext, SpawnOptions } from '../context.js';
import { isDownMessage } from '../messages.js';
import { Node } from '../node.js';
import type { Pid } from '../pid.js';
import { describeReason, type ExitReason } from '../reason.js';
import { StartError } from '../start-error.js';
import type { SupervisorRequest } from './requests.js';
import { type FailedToStartChild, SupervisorServer } from './server.js';
import type {
  ChildCounts,
  ChildInfo,
  ChildSpec,
  DeleteChildResult,
  GetChildSpecResult,
  ResolvedFlags,
  RestartChildResult,
  StartChildResult,
  SupervisorFlags,
  TerminateChildResult,
  WhichChildResult,
} from './types.js';
import { resolveChildSpecs, resolveFlags } from './validate.js';

/** Whoever talks to a supervisor: code outside processes (a Node) or a process (its ctx). */
export type SupervisorCaller = Node | ProcessContext;

export interface SupervisorOptions {
  /** Registers the supervisor under this name. */
  readonly name?: string;
}

/**
 * Talks to a running supervisor (OTP's supervisor API). Every answer is a typed result; only a
 * supervisor that is gone makes a call throw (CallError with `noproc`).
 */
export class SupervisorClient {
  constructor(
    private readonly caller: SupervisorCaller,
    /** The supervisor's pid or registered name. */
    readonly ref: Pid | string,
    /** How long a call waits for the supervisor's answer before failing with `timeout` (default: for ever). */
    private readonly timeoutMs = Number.POSITIVE_INFINITY,
  ) {}

  private request<T>(request: SupervisorRequest): Promise<T> {
    return this.caller.call<T>(this.ref, request, this.timeoutMs);
  }

  /** A child spec for static supervisors; an array of extra arguments for simple_one_for_one. */
  startChild(specOrArgs: ChildSpec | readonly unknown[]): Promise<StartChildResult> {
    return this.request({ op: 'start_child', spec: specOrArgs });
  }

  /** By id; by pid for simple_one_for_one. */
  terminateChild(idOrPid: string): Promise<TerminateChildResult> {
    return this.request({ op: 'terminate_child', id: idOrPid });
  }

  restartChild(id: string): Promise<RestartChildResult> {
    return this.request({ op: 'restart_child', id });
  }

  deleteChild(id: string): Promise<DeleteChildResult> {
    return this.request({ op: 'delete_child', id });
  }

  /** Newest child first (OTP's order); simple_one_for_one children in start order. */
  whichChildren(): Promise<ChildInfo[]> {
    return this.request({ op: 'which_children' });
  }

  whichChild(idOrPid: string): Promise<WhichChildResult> {
    return this.request({ op: 'which_child', id: idOrPid });
  }

  countChildren(): Promise<ChildCounts> {
    return this.request({ op: 'count_children' });
  }

  getChildSpec(idOrPid: string): Promise<GetChildSpecResult> {
    return this.request({ op: 'get_childspec', id: idOrPid });
  }

  /** Its flags (strategy, intensity, period, auto_shutdown) with the defaults filled in; read-only, for observers. */
  getFlags(): Promise<ResolvedFlags> {
    return this.request({ op: 'get_flags' });
  }

  /** Terminates every child in reverse start order, then ends the supervisor with `reason`. */
  async stop(reason: ExitReason = 'normal'): Promise<void> {
    const caller = this.caller;
    if (caller instanceof Node) {
      const pid = caller.whereis(this.ref) ?? this.ref;
      const ended = caller.waitExit(pid);
      await this.request({ op: 'stop', reason });
      await ended;
      return;
    }
    const ref = caller.monitor(this.ref);
    await this.request({ op: 'stop', reason });
    await caller.receive((m) => isDownMessage(m) && m.ref === ref);
  }
}

function supervisorBody(
  flags: SupervisorFlags | undefined,
  children: readonly ChildSpec[],
  parent: (self: Pid) => Pid,
) {
  const resolvedFlags = resolveFlags(flags);
  const specs = resolveChildSpecs(children, resolvedFlags);
  return async function supervisor(ctx: ProcessContext, ready: (pid: Pid) => void): Promise<void> {
    await new SupervisorServer(ctx, resolvedFlags, specs, parent(ctx.self)).run(ready);
  };
}

/**
 * Starts a top-level supervisor on `node` and resolves once its children have started; the node
 * is its parent, so `node.exit(pid, reason)` stops it in order. Rejects with SupervisorSpecError
 * for invalid flags or specs, with StartError when a child fails to start.
 */
export async function startSupervisor(
  node: Node,
  flags: SupervisorFlags | undefined,
  children: readonly ChildSpec[],
  options: SupervisorOptions = {},
): Promise<SupervisorClient> {
  const body = supervisorBody(flags, children, () => node.pid);
  const { pid } = await node.start(body, spawnOptions(options)).catch(explainStartFailure);
  return new SupervisorClient(node, pid);
}

/** Starts a supervisor linked to the calling process, which becomes its parent. */
export async function startSupervisorLink(
  ctx: ProcessContext,
  flags: SupervisorFlags | undefined,
  children: readonly ChildSpec[],
  options: SupervisorOptions = {},
): Promise<SupervisorClient> {
  const parent = ctx.self;
  const body = supervisorBody(flags, children, () => parent);
  const { pid } = await ctx.startLink(body, spawnOptions(options)).catch(explainStartFailure);
  return new SupervisorClient(ctx, pid);
}

/** Turns "the supervisor process failed to start" into which child failed and why. */
function explainStartFailure(error: unknown): never {
  const failure = error instanceof StartError ? (error.reason as Partial<FailedToStartChild>).shutdown : undefined;
  if (error instanceof StartError && failure && typeof failure === 'object' && 'failedToStartChild' in failure) {
    throw new StartError(
      error.pid,
      error.reason,
      `supervisor ${error.pid} failed to start: child "${failure.failedToStartChild}" did not start (${describeReason(failure.reason)}); the children started before it were stopped.`,
    );
  }
  throw error;
}

function spawnOptions(options: SupervisorOptions): SpawnOptions {
  return options.name === undefined
    ? { trapExit: true, label: 'supervisor' }
    : { trapExit: true, label: 'supervisor', name: options.name };
}

type ChildOptions = Omit<ChildSpec, 'id' | 'start' | 'type'>;

/** A worker child whose process runs `body` (simple_one_for_one: with the extra arguments). */
export function workerChild(
  id: string,
  body: (ctx: ProcessContext, ...args: readonly unknown[]) => unknown,
  options: ChildOptions & { readonly spawn?: SpawnOptions } = {},
): ChildSpec {
  const { spawn, ...spec } = options;
  const label = spawn?.label ?? (body.name || id);
  return {
    ...spec,
    id,
    type: 'worker',
    start: (ctx, ...args) => {
      const run: ProcessBody = (child) => body(child, ...args);
      return ctx.spawnLink(run, { ...spawn, label });
    },
  };
}

/** A child that is itself a supervisor (type supervisor, shutdown infinity unless given). */
export function supervisorChild(
  id: string,
  flags: SupervisorFlags | undefined,
  children: readonly ChildSpec[],
  options: ChildOptions = {},
): ChildSpec {
  return {
    ...options,
    id,
    type: 'supervisor',
    start: async (ctx) => (await startSupervisorLink(ctx, flags, children)).ref,
  };
}
