import {
  BacklogFullError,
  boundedJson,
  ChildJobError,
  type ChildRelation,
  describeIssues,
  idempotentJobId,
  JOB_ID,
  JobSpecError,
  type JobStore,
  type JobView,
  jobSpecSchema,
} from '@beamline/jobs';
import {
  BadArgError,
  type ChildJob,
  type ChildJobEnd,
  type JobDownMessage,
  type JobExitMessage,
  type JobTreeHost,
  type Node,
  type Pid,
  type StartJobOptions,
} from '@beamline/runtime';

/**
 * The node's side of job trees (ADR 0013): starts child jobs for the job processes of this node
 * and brings their ends back to them. Job code only asks; the tenant and the parent are this
 * node's record of which job the asking process runs, never anything it sent.
 */

/** The largest input of a child job, as JSON: the node holds it until the submit step has run. */
export const MAX_CHILD_INPUT_BYTES = 1024 * 1024;
/** Submissions of one parent in flight at once; more wait their turn (in the order they were asked). */
const STARTS_IN_FLIGHT = 64;
/** Submissions of one parent waiting for their turn, and the bytes of their inputs; beyond either, startJob is refused. */
const STARTS_QUEUED = 1024;
const STARTS_QUEUED_BYTES = 16 * 1024 * 1024;
/** How often the ends of children that a parent waits for are read without a notification (one lost on the way). */
const ENDS_POLL_MS = 2000;
/** How long a poll goes on taking cascades of cancellation further, one step (one parent's children) at a time. */
const CASCADE_MS_PER_POLL = 500;

type ChildOutcome = { readonly state: 'completed'; readonly result: unknown } | ChildJobEnd;

interface ChildOfRun {
  readonly relation: ChildRelation;
  readonly ref: string | undefined;
  outcome: ChildOutcome | undefined;
  readonly waiters: Array<{ resolve(value: unknown): void; reject(error: Error): void }>;
  /** The one wait for its end that every awaitJob of it shares. */
  awaited?: Promise<unknown>;
}

/** A run of a parent job on this node: its children as this run knows them. */
interface ParentRun {
  readonly pid: Pid;
  readonly jobId: string;
  readonly tenant: string;
  readonly children: Map<string, ChildOfRun>;
  /** startJob calls of this run so far: the default key of the next child. */
  calls: number;
  /** Ids of the parent's ends list read so far. */
  endsRead: number;
  reading: boolean;
  readAgain: boolean;
  inFlight: number;
  readonly queued: Array<() => void>;
  /** Bytes of the inputs of the submissions waiting their turn. */
  queuedBytes: number;
}

export interface JobTreeDeps {
  readonly node: Node;
  readonly store: Pick<JobStore, 'submitChild' | 'get' | 'childEnds' | 'continueCascades'>;
  /** The job a process of this node runs, and its tenant. */
  readonly jobOf: (pid: Pid) => { readonly jobId: string; readonly tenant: string } | undefined;
  /** The pid of a job this node runs. */
  readonly pidOf: (jobId: string) => Pid | undefined;
  readonly maxChildren: number;
  readonly maxDepth: number;
  /** Whether the process traps exit signals now (a linked child's failure is then a message). */
  readonly trapsExits: (pid: Pid) => boolean;
}

export class JobTrees implements JobTreeHost {
  private readonly runs = new Map<Pid, ParentRun>();
  private readonly poller: ReturnType<typeof setInterval>;
  private cascading = false;

  constructor(private readonly deps: JobTreeDeps) {
    this.poller = setInterval(() => this.pollWaitingParents(), ENDS_POLL_MS);
    this.poller.unref();
  }

  close(): void {
    clearInterval(this.poller);
    this.runs.clear();
  }

  async startJob(from: Pid, fn: string, input: unknown, options: StartJobOptions): Promise<ChildJob> {
    const run = this.runOf(from, 'start jobs');
    if (options.link === true && options.monitor === true) {
      throw new BadArgError('startJob: a child is either linked or monitored; give link or monitor, not both.');
    }
    const relation: ChildRelation = options.monitor === true ? 'monitor' : options.link === false ? 'none' : 'link';
    run.calls++;
    const key = options.key ?? `#${run.calls}`;
    const { spec, inputBytes } = this.childSpec(fn, input, options);
    if (
      run.inFlight >= STARTS_IN_FLIGHT &&
      (run.queued.length >= STARTS_QUEUED || run.queuedBytes + inputBytes > STARTS_QUEUED_BYTES)
    ) {
      throw refusal(
        new ChildJobError(
          'busy',
          `${STARTS_IN_FLIGHT} submissions of this job are in flight and ${run.queued.length} more wait their turn; await some first.`,
        ),
      );
    }
    // The child's id follows from the parent and the key: known before the submission, so that
    // an end that comes back before the submission's reply finds its child.
    const idempotencyKey = `child\u0000${run.jobId}\u0000${key}`;
    const childId = idempotentJobId(run.tenant, idempotencyKey);
    const ref = relation === 'monitor' ? `${from}:job${run.calls}` : undefined;
    const created = !run.children.has(childId);
    if (created) run.children.set(childId, { relation, ref, outcome: undefined, waiters: [] });
    await this.turn(run, inputBytes);
    let submitted: JobView;
    try {
      const parent = { jobId: run.jobId, relation, maxChildren: this.deps.maxChildren, maxDepth: this.deps.maxDepth };
      submitted = (await this.deps.store.submitChild(spec, run.tenant, parent, idempotencyKey)).job;
    } catch (error) {
      if (created) run.children.delete(childId);
      throw refusal(error);
    } finally {
      this.nextTurn(run);
    }
    // A retried parent meets the child its earlier run started: ended already, its end is delivered now.
    const ended = outcomeOf(submitted);
    if (ended) this.childEnded(run, submitted.id, ended);
    return ref === undefined ? { id: submitted.id } : { id: submitted.id, ref };
  }

  async awaitJob(from: Pid, jobId: string): Promise<unknown> {
    const run = this.runOf(from, 'await jobs');
    if (!JOB_ID.test(jobId)) throw new BadArgError(`awaitJob: "${jobId.slice(0, 100)}" is no job id.`);
    let child = run.children.get(jobId);
    if (!child) {
      // A child an earlier run of this job started, not started again by this run.
      const view = await this.deps.store.get(jobId, run.tenant);
      if (view?.parent?.id !== run.jobId) {
        throw new BadArgError(`awaitJob: job ${jobId} is not a child of this job (job ${run.jobId}).`);
      }
      child = run.children.get(jobId) ?? {
        relation: view.parent.relation,
        ref: undefined,
        outcome: outcomeOf(view),
        waiters: [],
      };
      run.children.set(jobId, child);
    }
    const known = child.outcome;
    if (known) return settle(jobId, known);
    const waiting = child;
    waiting.awaited ??= new Promise((resolve, reject) => {
      waiting.waiters.push({ resolve, reject });
    });
    return waiting.awaited;
  }

  /** The job store says a child of `parentJobId` (a job of `tenant`) ended: read the parent's ends. */
  childEndedNotice(parentJobId: string, tenant: string): boolean {
    const pid = this.deps.pidOf(parentJobId);
    const run = pid === undefined ? undefined : this.runs.get(pid);
    if (!run) return true; // not running here (any more): its next run reads what it needs
    if (run.tenant !== tenant) return false;
    this.readEnds(run);
    return true;
  }

  /** The run of a parent job ended on this node: what it waited for no longer matters. */
  forget(pid: Pid): void {
    this.runs.delete(pid);
  }

  private runOf(pid: Pid, what: string): ParentRun {
    const job = this.deps.jobOf(pid);
    if (!job) throw new BadArgError(`Only a job's process may ${what}.`);
    let run = this.runs.get(pid);
    if (!run) {
      run = {
        pid,
        jobId: job.jobId,
        tenant: job.tenant,
        children: new Map(),
        calls: 0,
        endsRead: 0,
        reading: false,
        readAgain: false,
        inFlight: 0,
        queued: [],
        queuedBytes: 0,
      };
      this.runs.set(pid, run);
    }
    return run;
  }

  /** The child's job spec, and the length of its input as JSON (what the node holds until it is submitted). */
  private childSpec(fn: string, input: unknown, options: StartJobOptions) {
    let json: ReturnType<typeof boundedJson>;
    try {
      json = boundedJson(input ?? null, MAX_CHILD_INPUT_BYTES);
    } catch {
      throw new BadArgError('startJob: the input is not JSON data; pass plain data.');
    }
    if (!json.fits) {
      throw new BadArgError(`startJob: the input, written out as JSON, is over ${MAX_CHILD_INPUT_BYTES} bytes.`);
    }
    const { priority, timeoutMs, cpuMs, memoryMb, attempts, delayMs } = options;
    const given = { function: fn, input, priority, timeoutMs, cpuMs, memoryMb, attempts, delayMs };
    const parsed = jobSpecSchema.safeParse(
      Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
    );
    if (!parsed.success) throw new BadArgError(`startJob: ${describeIssues(parsed.error)}`);
    return { spec: parsed.data, inputBytes: json.text?.length ?? 0 };
  }

  private turn(run: ParentRun, inputBytes: number): Promise<void> {
    if (run.inFlight < STARTS_IN_FLIGHT) {
      run.inFlight++;
      return Promise.resolve();
    }
    run.queuedBytes += inputBytes;
    return new Promise((resolve) =>
      run.queued.push(() => {
        run.queuedBytes -= inputBytes;
        resolve();
      }),
    );
  }

  private nextTurn(run: ParentRun): void {
    const next = run.queued.shift();
    if (next) next();
    else run.inFlight--;
  }

  /** Reads the parent's ends list from where this run left it; one read at a time, again if asked meanwhile. */
  private readEnds(run: ParentRun): void {
    if (run.reading) {
      run.readAgain = true;
      return;
    }
    run.reading = true;
    void (async () => {
      try {
        do {
          run.readAgain = false;
          const ids = await this.deps.store.childEnds(run.jobId, run.endsRead);
          run.endsRead += ids.length;
          const pending = ids.filter((id) => run.children.get(id)?.outcome === undefined && run.children.has(id));
          const views = await Promise.all(pending.map((id) => this.deps.store.get(id, run.tenant)));
          for (const [i, id] of pending.entries()) {
            const view = views[i];
            // Gone: it was cancelled before it started (removed with its parent's cascade or by a user).
            const outcome: ChildOutcome = view
              ? (outcomeOf(view) ?? { state: 'cancelled', reason: 'cancelled', message: 'the job was cancelled' })
              : { state: 'cancelled', reason: 'cancelled', message: 'the job was cancelled before it started' };
            this.childEnded(run, id, outcome);
          }
        } while (run.readAgain && this.runs.get(run.pid) === run);
      } catch {
        // Redis unavailable: the poll tries again.
      } finally {
        run.reading = false;
      }
    })();
  }

  /** Takes queued cascades of cancellation further, a bounded number of steps per poll. */
  private continueCascades(): void {
    if (this.cascading) return;
    this.cascading = true;
    const until = Date.now() + CASCADE_MS_PER_POLL;
    void (async () => {
      try {
        while ((await this.deps.store.continueCascades(10)) > 0 && Date.now() < until);
      } catch {
        // Redis unavailable: the next poll goes on.
      } finally {
        this.cascading = false;
      }
    })();
  }

  /** Parents with children they wait for, or are tied to, and whose end has not been seen: a notification may have been lost. */
  private pollWaitingParents(): void {
    this.continueCascades();
    for (const run of this.runs.values()) {
      for (const child of run.children.values()) {
        if (child.outcome === undefined && (child.waiters.length > 0 || child.relation !== 'none')) {
          this.readEnds(run);
          break;
        }
      }
    }
  }

  private childEnded(run: ParentRun, childId: string, outcome: ChildOutcome): void {
    const child = run.children.get(childId);
    if (!child || child.outcome !== undefined || this.runs.get(run.pid) !== run) return;
    child.outcome = outcome;
    for (const waiter of child.waiters.splice(0)) {
      try {
        waiter.resolve(settle(childId, outcome));
      } catch (error) {
        waiter.reject(error as Error);
      }
    }
    const { node } = this.deps;
    if (!node.isAlive(run.pid)) return;
    if (child.relation === 'monitor' && child.ref !== undefined) {
      const down: JobDownMessage = {
        type: 'DOWN',
        ref: child.ref,
        pid: `job:${childId}`,
        job: childId,
        reason: outcome.state === 'completed' ? 'normal' : outcome,
        ...(outcome.state === 'completed' ? { result: outcome.result } : {}),
      };
      node.send(run.pid, down);
    } else if (child.relation === 'link' && outcome.state !== 'completed') {
      if (this.deps.trapsExits(run.pid)) {
        const exit: JobExitMessage = { type: 'EXIT', from: `job:${childId}`, job: childId, reason: outcome };
        node.send(run.pid, exit);
      } else {
        const error = new Error(`linked child job ${childId} ${outcome.state}: ${outcome.reason}: ${outcome.message}`);
        error.name = 'LinkedJobFailed';
        error.stack = `${error.name}: ${error.message}`;
        node.exit(run.pid, { error });
      }
    }
  }
}

/** How a job ended, from its view; undefined while it has not. */
function outcomeOf(view: JobView): ChildOutcome | undefined {
  if (view.state === 'completed') return { state: 'completed', result: view.result };
  if (view.state === 'failed' || view.state === 'cancelled') {
    return {
      state: view.state,
      reason: view.exit?.reason ?? (view.state === 'cancelled' ? 'cancelled' : 'error'),
      message: view.exit?.message ?? '',
    };
  }
  return undefined;
}

/** The result of a completed child; the ChildJobFailed error of one that did not complete. */
function settle(childId: string, outcome: ChildOutcome): unknown {
  if (outcome.state === 'completed') return outcome.result;
  const error = new Error(`child job ${childId} ${outcome.state}: ${outcome.reason}: ${outcome.message}`);
  error.name = 'ChildJobFailed';
  error.stack = `${error.name}: ${error.message}`;
  Object.assign(error, { code: outcome.reason });
  throw error;
}

/** The error job code sees when a child could not be started. */
function refusal(error: unknown): Error {
  if (error instanceof ChildJobError || error instanceof BacklogFullError || error instanceof JobSpecError) {
    const refused = new Error(`startJob: ${error.message}`);
    refused.name = 'StartJobRefused';
    refused.stack = `${refused.name}: ${refused.message}`;
    Object.assign(refused, {
      code:
        error instanceof ChildJobError ? error.code : error instanceof BacklogFullError ? 'backlog_full' : 'invalid',
    });
    return refused;
  }
  return error instanceof Error ? error : new Error(String(error));
}
