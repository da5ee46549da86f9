import { isCallMessage } from '../call.js';
import type { ProcessContext } from '../context.js';
import { kernelOf } from '../internal.js';
import type { Kernel } from '../kernel.js';
import { isExitMessage } from '../messages.js';
import { isPid, type Pid } from '../pid.js';
import { type ExitReason, isOrderlyExit } from '../reason.js';
import type { SupervisorReport } from '../reports.js';
import { DynamicChildren, isRunning, RESTARTING, type StaticChild, StaticChildren } from './children.js';
import { RestartIntensity } from './intensity.js';
import { isTryAgainRestart, type SupervisorRequest, type TryAgainRestart } from './requests.js';
import { type ShutdownOutcome, shutdownChild, shutdownChildrenInParallel, unexpectedByReason } from './shutdown.js';
import { alreadyStartedPid, type StartOutcome, startChildProcess } from './start-child.js';
import type {
  ChildCounts,
  ChildInfo,
  DeleteChildResult,
  GetChildSpecResult,
  ResolvedChildSpec,
  ResolvedFlags,
  RestartChildResult,
  RestartType,
  StartChildResult,
  TerminateChildResult,
  WhichChildResult,
} from './types.js';
import { resolveChildSpec, SupervisorSpecError } from './validate.js';

type Verdict = 'continue' | 'shutdown';

/** The reason a supervisor's start fails with when a child cannot be started. */
export interface FailedToStartChild {
  readonly shutdown: { readonly failedToStartChild: string; readonly reason: ExitReason };
}

/**
 * The supervisor process: OTP's supervisor.erl as a green process that traps exits, starts its
 * children, restarts them by strategy within the restart intensity, and answers the client's
 * requests between restarts.
 */
export class SupervisorServer {
  private readonly kernel: Kernel;
  private readonly intensity: RestartIntensity;
  private readonly children = new StaticChildren();
  private readonly dynamics = new DynamicChildren();
  private readonly template: ResolvedChildSpec | undefined;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly flags: ResolvedFlags,
    private readonly specs: readonly ResolvedChildSpec[],
    private readonly parent: Pid,
  ) {
    this.kernel = kernelOf(ctx);
    this.intensity = new RestartIntensity(flags.intensity, flags.periodMs);
    this.template = flags.strategy === 'simple_one_for_one' ? specs[0] : undefined;
  }

  async run(ready: (pid: Pid) => void): Promise<never> {
    this.ctx.trapExit(true);
    if (!this.template) {
      const failure = await this.startInitialChildren();
      if (failure) this.ctx.exit(failure);
    }
    ready(this.ctx.self);
    for (;;) {
      const message = await this.ctx.receive();
      if (isExitMessage(message)) {
        if (message.from === this.parent) await this.stop(message.reason);
        if ((await this.childExited(message.from, message.reason)) === 'shutdown') await this.stop('shutdown');
      } else if (isCallMessage(message)) {
        const request = message.request as SupervisorRequest;
        if (request.op === 'stop') {
          await this.terminateAllChildren();
          this.ctx.reply(message.from, { ok: true });
          this.ctx.exit(request.reason);
        }
        this.ctx.reply(message.from, await this.handle(request));
      } else if (isTryAgainRestart(message)) {
        if ((await this.tryAgain(message)) === 'shutdown') await this.stop('shutdown');
      }
    }
  }

  private async stop(reason: ExitReason): Promise<never> {
    await this.terminateAllChildren();
    this.ctx.exit(reason);
  }

  // ── start ────────────────────────────────────────────────────────────────────────────

  private async startInitialChildren(): Promise<FailedToStartChild | undefined> {
    for (const spec of this.specs) {
      const outcome = await startChildProcess(this.ctx, spec, []);
      if (outcome.kind === 'failed') {
        this.report('start_error', spec.id, undefined, outcome.reason);
        await this.terminateChildren(this.children.inStartOrder());
        return { shutdown: { failedToStartChild: spec.id, reason: outcome.reason } };
      }
      if (outcome.kind === 'started') this.children.append(spec, outcome.pid);
      else if (spec.restart !== 'temporary') this.children.append(spec, undefined);
    }
    return undefined;
  }

  /** Starts `group` in start order; stops at the first failure and returns the failed child. */
  private async startChildren(group: readonly StaticChild[]): Promise<StaticChild | undefined> {
    for (const child of group) {
      if (!this.children.has(child)) continue;
      const outcome = await startChildProcess(this.ctx, child.spec, []);
      if (outcome.kind === 'failed') {
        this.report('start_error', child.spec.id, undefined, outcome.reason);
        return child;
      }
      if (outcome.kind === 'started') this.children.setPid(child, outcome.pid);
      else if (child.spec.restart === 'temporary') this.children.remove(child);
      else this.children.setPid(child, undefined);
    }
    return undefined;
  }

  // ── exits and restarts ───────────────────────────────────────────────────────────────

  private async childExited(pid: Pid, reason: ExitReason): Promise<Verdict> {
    if (this.template) return this.dynamicChildExited(pid, reason, this.template);
    const child = this.children.byPid(pid);
    if (!child) return 'continue';
    if (isRestartedAfter(child.spec.restart, reason)) {
      this.report('child_terminated', child.spec.id, pid, reason);
      return this.restart(child);
    }
    if (!isOrderlyExit(reason)) this.report('child_terminated', child.spec.id, pid, reason);
    this.removeStopped(child);
    return this.autoShutdown(child);
  }

  private async dynamicChildExited(pid: Pid, reason: ExitReason, template: ResolvedChildSpec): Promise<Verdict> {
    const entry = this.dynamics.get(pid);
    if (!entry || entry.restarting) return 'continue';
    if (isRestartedAfter(template.restart, reason)) {
      this.report('child_terminated', template.id, pid, reason);
      return this.restartDynamic(pid, template);
    }
    if (!isOrderlyExit(reason)) this.report('child_terminated', template.id, pid, reason);
    this.dynamics.delete(pid);
    return 'continue';
  }

  /** OTP's del_child: a temporary child is forgotten, another keeps its spec without a pid. */
  private removeStopped(child: StaticChild): void {
    if (child.spec.restart === 'temporary') this.children.remove(child);
    else this.children.setPid(child, undefined);
  }

  private autoShutdown(child: StaticChild): Verdict {
    const mode = this.flags.autoShutdown;
    if (mode === 'never' || !child.spec.significant) return 'continue';
    if (mode === 'any_significant') return 'shutdown';
    const significantLeft = this.children.inStartOrder().some((c) => c.spec.significant && c.pid !== undefined);
    return significantLeft ? 'continue' : 'shutdown';
  }

  /** Counts the restart against the intensity, then restarts by strategy. */
  private async restart(child: StaticChild): Promise<Verdict> {
    if (!this.intensity.record(this.kernel.clock.now())) {
      this.report('reached_max_restart_intensity', child.spec.id, undefined, 'shutdown');
      this.removeStopped(child);
      return 'shutdown';
    }
    switch (this.flags.strategy) {
      case 'one_for_one': {
        const outcome = await startChildProcess(this.ctx, child.spec, []);
        if (outcome.kind === 'started') this.children.setPid(child, outcome.pid);
        else if (outcome.kind === 'ignored') this.children.setPid(child, undefined);
        else this.restartFailed(child, outcome.reason);
        return 'continue';
      }
      case 'one_for_all':
        this.children.setPid(child, undefined);
        await this.restartGroup([...this.children.inStartOrder()]);
        return 'continue';
      default:
        this.children.setPid(child, undefined);
        await this.restartGroup(this.children.fromChild(child));
        return 'continue';
    }
  }

  /** one_for_all / rest_for_one: stop the group in reverse start order, start it again in order. */
  private async restartGroup(group: StaticChild[]): Promise<void> {
    await this.terminateChildren(group);
    const failed = await this.startChildren(group);
    if (!failed) return;
    this.children.setPid(failed, RESTARTING);
    this.scheduleRetry(failed.spec.id);
  }

  private restartFailed(child: StaticChild, reason: ExitReason): void {
    this.report('start_error', child.spec.id, undefined, reason);
    this.children.setPid(child, RESTARTING);
    this.scheduleRetry(child.spec.id);
  }

  private async restartDynamic(previous: Pid, template: ResolvedChildSpec): Promise<Verdict> {
    if (!this.intensity.record(this.kernel.clock.now())) {
      this.report('reached_max_restart_intensity', template.id, undefined, 'shutdown');
      this.dynamics.delete(previous);
      return 'shutdown';
    }
    const args = this.dynamics.get(previous)?.args ?? [];
    this.dynamics.delete(previous);
    const outcome = await startChildProcess(this.ctx, template, args);
    if (outcome.kind === 'started') {
      this.dynamics.set(outcome.pid, { args, restarting: false });
    } else if (outcome.kind === 'failed') {
      this.report('start_error', template.id, undefined, outcome.reason);
      this.dynamics.set(previous, { args, restarting: true });
      this.scheduleRetry(previous);
    }
    return 'continue';
  }

  /** Retries are messages to self, so requests and exits queued meanwhile are handled between attempts. */
  private scheduleRetry(key: string): void {
    const message: TryAgainRestart = { type: '$try_again_restart', key };
    this.ctx.send(this.ctx.self, message);
  }

  private async tryAgain({ key }: TryAgainRestart): Promise<Verdict> {
    if (this.template) {
      return this.dynamics.get(key)?.restarting ? this.restartDynamic(key, this.template) : 'continue';
    }
    const child = this.children.byId(key);
    return child?.pid === RESTARTING ? this.restart(child) : 'continue';
  }

  // ── termination ──────────────────────────────────────────────────────────────────────

  /** Stops `group` one at a time in reverse start order; temporary children are forgotten. */
  private async terminateChildren(group: readonly StaticChild[]): Promise<void> {
    for (const child of [...group].reverse()) {
      if (!this.children.has(child)) continue;
      await this.terminateChild(child);
      this.removeStopped(child);
    }
  }

  private async terminateChild(child: StaticChild): Promise<void> {
    if (!isRunning(child.pid)) return;
    const pid = child.pid;
    this.children.setPid(child, undefined);
    this.reportShutdown(child.spec.id, await shutdownChild(this.ctx, pid, child.spec.shutdown, child.spec.restart));
  }

  private async terminateAllChildren(): Promise<void> {
    if (!this.template) {
      await this.terminateChildren(this.children.inStartOrder());
      return;
    }
    const template = this.template;
    const outcomes = await shutdownChildrenInParallel(
      this.ctx,
      this.dynamics.runningPids(),
      template.shutdown,
      template.restart,
      () => this.kernel.clock.now(),
    );
    this.dynamics.clear();
    for (const { reason, pids } of unexpectedByReason(outcomes)) {
      this.report('shutdown_error', template.id, undefined, reason, pids);
    }
  }

  private reportShutdown(childId: string, outcome: ShutdownOutcome): void {
    if (!outcome.expected) this.report('shutdown_error', childId, outcome.pid, outcome.reason);
  }

  private report(
    event: SupervisorReport['event'],
    childId: string,
    pid: Pid | undefined,
    reason: ExitReason,
    pids?: readonly Pid[],
  ): void {
    const report: SupervisorReport = { type: 'supervisor', supervisor: this.ctx.self, event, childId, pid, reason };
    this.kernel.report(pids === undefined ? report : { ...report, pids });
  }

  // ── requests ─────────────────────────────────────────────────────────────────────────

  private handle(request: SupervisorRequest): unknown {
    switch (request.op) {
      case 'start_child':
        return this.template
          ? this.startDynamicChild(request.spec, this.template)
          : this.startStaticChild(request.spec);
      case 'terminate_child':
        return this.template ? this.terminateDynamicChild(request.id) : this.terminateStaticChild(request.id);
      case 'restart_child':
        return this.restartChild(request.id);
      case 'delete_child':
        return this.deleteChild(request.id);
      case 'which_children':
        return this.whichChildren();
      case 'which_child':
        return this.whichChild(request.id);
      case 'count_children':
        return this.countChildren();
      case 'get_childspec':
        return this.getChildSpec(request.id);
      case 'get_flags': {
        const { strategy, intensity, periodMs, autoShutdown } = this.flags;
        return { strategy, intensity, periodMs, autoShutdown };
      }
      default:
        return { ok: false, error: 'unknown_request' };
    }
  }

  private async startStaticChild(spec: unknown): Promise<StartChildResult> {
    let resolved: ResolvedChildSpec;
    try {
      resolved = resolveChildSpec(spec, this.flags.autoShutdown);
    } catch (error) {
      if (!(error instanceof SupervisorSpecError)) throw error;
      return { ok: false, error: 'invalid_child_spec', field: error.field, message: error.message };
    }
    const existing = this.children.byId(resolved.id);
    if (existing) {
      return isRunning(existing.pid)
        ? { ok: false, error: 'already_started', pid: existing.pid }
        : { ok: false, error: 'already_present' };
    }
    const outcome = await startChildProcess(this.ctx, resolved, []);
    if (outcome.kind === 'failed') return startFailed(outcome.reason);
    if (outcome.kind === 'started') {
      this.children.append(resolved, outcome.pid);
      return startedResult(outcome);
    }
    if (resolved.restart !== 'temporary') this.children.append(resolved, undefined);
    return { ok: true, pid: undefined };
  }

  private async startDynamicChild(args: unknown, template: ResolvedChildSpec): Promise<StartChildResult> {
    if (!Array.isArray(args)) {
      return {
        ok: false,
        error: 'invalid_child_spec',
        field: 'args',
        message:
          'args: a simple_one_for_one supervisor starts children from its template; pass an array of extra arguments.',
      };
    }
    const outcome = await startChildProcess(this.ctx, template, args);
    if (outcome.kind === 'failed') return startFailed(outcome.reason);
    if (outcome.kind === 'ignored') return { ok: true, pid: undefined };
    const kept = template.restart === 'temporary' ? undefined : [...args];
    this.dynamics.set(outcome.pid, { args: kept, restarting: false });
    return startedResult(outcome);
  }

  private async terminateStaticChild(id: string): Promise<TerminateChildResult> {
    const child = this.children.byId(id);
    if (!child) return { ok: false, error: 'not_found' };
    await this.terminateChild(child);
    this.removeStopped(child);
    return { ok: true };
  }

  private async terminateDynamicChild(pid: string): Promise<TerminateChildResult> {
    if (!isPid(pid)) return { ok: false, error: 'simple_one_for_one' };
    const entry = this.dynamics.get(pid);
    if (entry && !entry.restarting) {
      const template = this.template as ResolvedChildSpec;
      this.dynamics.delete(pid);
      this.reportShutdown(template.id, await shutdownChild(this.ctx, pid, template.shutdown, template.restart));
      return { ok: true };
    }
    if (entry) {
      this.dynamics.delete(pid);
      return { ok: true };
    }
    return this.ctx.isAlive(pid) ? { ok: false, error: 'not_found' } : { ok: true };
  }

  private async restartChild(id: string): Promise<RestartChildResult> {
    if (this.template) return { ok: false, error: 'simple_one_for_one' };
    const child = this.children.byId(id);
    if (!child) return { ok: false, error: 'not_found' };
    if (isRunning(child.pid)) return { ok: false, error: 'running' };
    if (child.pid === RESTARTING) return { ok: false, error: 'restarting' };
    const outcome = await startChildProcess(this.ctx, child.spec, []);
    if (outcome.kind === 'failed') return { ok: false, error: 'start_failed', reason: outcome.reason };
    if (outcome.kind === 'ignored') return { ok: true, pid: undefined };
    this.children.setPid(child, outcome.pid);
    return startedResult(outcome);
  }

  private deleteChild(id: string): DeleteChildResult {
    if (this.template) return { ok: false, error: 'simple_one_for_one' };
    const child = this.children.byId(id);
    if (!child) return { ok: false, error: 'not_found' };
    if (isRunning(child.pid)) return { ok: false, error: 'running' };
    if (child.pid === RESTARTING) return { ok: false, error: 'restarting' };
    this.children.remove(child);
    return { ok: true };
  }

  /** Newest child first, as OTP's which_children (simple_one_for_one: in start order). */
  private whichChildren(): ChildInfo[] {
    if (this.template) {
      const type = this.template.type;
      return Array.from(this.dynamics.entriesInStartOrder(), ([pid, entry]) => ({
        id: undefined,
        pid: entry.restarting ? 'restarting' : pid,
        type,
      }));
    }
    return [...this.children.inStartOrder()].reverse().map(staticChildInfo);
  }

  private whichChild(id: string): WhichChildResult {
    if (this.template) {
      if (!isPid(id)) return { ok: false, error: 'simple_one_for_one' };
      const entry = this.dynamics.get(id);
      if (!entry || entry.restarting) return { ok: false, error: 'not_found' };
      return { ok: true, child: { id: undefined, pid: id, type: this.template.type } };
    }
    const child = this.children.byId(id);
    return child ? { ok: true, child: staticChildInfo(child) } : { ok: false, error: 'not_found' };
  }

  private countChildren(): ChildCounts {
    if (this.template) {
      const size = this.dynamics.size;
      const isSupervisor = this.template.type === 'supervisor';
      return {
        specs: 1,
        active: size - this.dynamics.restarting,
        supervisors: isSupervisor ? size : 0,
        workers: isSupervisor ? 0 : size,
      };
    }
    let active = 0;
    let supervisors = 0;
    for (const child of this.children.inStartOrder()) {
      if (isRunning(child.pid) && this.ctx.isAlive(child.pid)) active++;
      if (child.spec.type === 'supervisor') supervisors++;
    }
    return { specs: this.children.size, active, supervisors, workers: this.children.size - supervisors };
  }

  private getChildSpec(id: string): GetChildSpecResult {
    if (this.template) {
      const known = id === this.template.id || this.dynamics.get(id) !== undefined;
      return known ? { ok: true, spec: this.template } : { ok: false, error: 'not_found' };
    }
    const child = this.children.byId(id);
    return child ? { ok: true, spec: child.spec } : { ok: false, error: 'not_found' };
  }
}

function startedResult(outcome: StartOutcome & { kind: 'started' }): StartChildResult & RestartChildResult {
  return outcome.info === undefined
    ? { ok: true, pid: outcome.pid }
    : { ok: true, pid: outcome.pid, info: outcome.info };
}

/** OTP's restart rule: permanent always; transient unless normal, shutdown or {shutdown, _}; temporary never. */
function isRestartedAfter(restart: RestartType, reason: ExitReason): boolean {
  return restart === 'permanent' || (restart === 'transient' && !isOrderlyExit(reason));
}

function startFailed(reason: ExitReason): StartChildResult {
  const holder = alreadyStartedPid(reason);
  return holder === undefined
    ? { ok: false, error: 'start_failed', reason }
    : { ok: false, error: 'already_started', pid: holder };
}

function staticChildInfo(child: StaticChild): ChildInfo {
  const pid = child.pid === RESTARTING ? 'restarting' : child.pid;
  return { id: child.spec.id, pid, type: child.spec.type };
}
