import type { Server } from 'node:http';
import {
  ControlPublisher,
  connectRedis,
  FunctionRegistry,
  JobStore,
  Keys,
  QUEUE_NAME,
  type RedisClient,
} from '@beamline/jobs';
import {
  describeReason,
  isPid,
  Node,
  nodeOfPid,
  type Pid,
  type Report,
  Scheduler,
  type SchedulerOptions,
  SupervisorClient,
  startSupervisor,
  startSupervisorLink,
} from '@beamline/runtime';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { publishBuiltins } from './builtins.js';
import {
  ConsumerHandle,
  consumer,
  controlListener,
  HeartbeatNudge,
  heartbeat,
  jobChildSpec,
  RateLimitedWarning,
} from './components.js';
import type { WorkerConfig } from './config.js';
import {
  DEFAULT_EGRESS_LIMITS,
  EgressError,
  EgressPolicy,
  type EgressRequest,
  type EgressResponse,
  egressFetch,
} from './egress/index.js';
import { FairClock } from './fair-clock.js';
import { FunctionCache } from './function-cache.js';
import { portOf, startHttpServer } from './http-server.js';
import { JobRunner } from './job-runner.js';
import { JobTrees } from './job-trees.js';
import { WorkerMetrics } from './metrics.js';
import { ROOT_SUPERVISOR } from './supervision-tree.js';

/** What job code may do to another process (the runtime asks the guard before each). */
export type SignalOperation = 'send' | 'exit' | 'link' | 'monitor';

/** Jobs' requests in flight through this node, per tenant and in all: each holds a socket and up to a response's bytes. */
const FETCHES_PER_TENANT = 32;
const FETCHES_PER_NODE = 128;
/** Egress limits of one request: 4 MiB responses keep what the node holds for jobs' fetches under 512 MiB. */
const EGRESS_LIMITS = { ...DEFAULT_EGRESS_LIMITS, maxResponseBytes: 4 * 1024 * 1024 };

/** The registered name of the supervisor of job processes. */
const JOB_SUPERVISOR = 'beamline_jobs';

export interface WorkerNodeOptions {
  /** Called when the root supervisor gives up: the OS process should exit non-zero. */
  readonly onFatal?: (reason: unknown) => void;
}

/**
 * One worker node: a runtime Node and its Scheduler, a BullMQ consumer, a control-channel
 * listener, a heartbeat and an HTTP server, under a root supervisor (rest_for_one: when the
 * job supervisor restarts, the consumer restarts with it).
 */
export class WorkerNode {
  readonly node: Node;
  readonly scheduler: Scheduler;
  readonly metrics: WorkerMetrics;
  readonly runner: JobRunner;
  /** Child jobs that job processes of this node start and await (ADR 0013). */
  readonly trees: JobTrees;
  private readonly fairClock: FairClock;
  readonly keys: Keys;
  /** The one owner of job state in Redis. */
  readonly store: JobStore;
  private readonly nudges: HeartbeatNudge;
  /** Where job code's fetch may go: public addresses, a tenant's EGRESS_ALLOW, never the platform's services. */
  readonly egress: EgressPolicy;
  private root: SupervisorClient | undefined;
  private jobs: SupervisorClient | undefined;
  private server: Server | undefined;
  private readonly consumerHandle = new ConsumerHandle();
  private draining = false;
  private fetchesInFlight = 0;
  private readonly fetchesByTenant = new Map<string, number>();
  private stopped = false;

  private constructor(
    readonly config: WorkerConfig,
    private readonly logger: Logger,
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly options: WorkerNodeOptions,
  ) {
    this.keys = new Keys(config.prefix);
    const control = new ControlPublisher(redis, this.keys);
    const registry = new FunctionRegistry(redis, this.keys);
    // The store submits only the child jobs that job code starts (ADR 0013), within the tenant's backlog.
    this.store = new JobStore(redis, this.keys, registry, control, { backlogCap: config.tenantBacklogCap });
    this.store.queue.on('error', (error) => logger.warn({ err: error.message }, 'queue connection error'));
    const warning = new RateLimitedWarning(logger);
    // Signals to processes of other nodes carry the sender's tenant, stamped here from this
    // node's own record of its job processes (never from anything the job says). The node's own
    // processes have no tenant: what they send to other nodes is dropped (they have no business
    // with other nodes' jobs; operators use the API).
    const stamp = (from: Pid): string | undefined => {
      const tenant = this.runner.senderTenantOf(from) ?? this.tenantOf(from);
      if (tenant === undefined) {
        this.metrics.controlRefusedBy('no_sender_tenant');
        warning.warn('no_sender_tenant', { from }, 'dropped a signal to another node from a process without a tenant');
      }
      return tenant;
    };
    this.node = new Node({
      id: config.nodeId,
      remote: {
        send: (to, from, message) => {
          const tenant = stamp(from);
          if (tenant !== undefined) void control.send(to, from, message, tenant).catch(() => undefined);
        },
        exit: (to, from, reason) => {
          const tenant = stamp(from);
          if (tenant !== undefined) void control.exit(to, from, reason, tenant).catch(() => undefined);
        },
      },
      onReport: (report) => this.onReport(report),
    });
    this.fairClock = new FairClock(this.store);
    this.egress = new EgressPolicy({ allow: config.egressAllow, deny: config.egressDeny });
    this.trees = new JobTrees({
      node: this.node,
      store: this.store,
      jobOf: (pid) => this.runner.jobOf(pid),
      pidOf: (jobId) => this.runner.pidOf(jobId),
      maxChildren: config.jobMaxChildren,
      maxDepth: config.jobTreeMaxDepth,
      trapsExits: (pid) => this.node.kernel.get(pid)?.trapExit === true,
    });
    const schedulerOptions: SchedulerOptions = {
      maxProcesses: config.concurrency,
      prestart: config.prestartThreads,
      // Pre-started sandboxes serve jobs with the default memory limit, which most jobs have.
      defaultLimits: { memoryMb: config.defaultJobMemoryMb },
      requireNamespaces: config.sandboxRequireNamespaces,
      signalGuard: (from: Pid, to: Pid | string, operation: SignalOperation) => this.guardSignal(from, to, operation),
      // Processes spawned without their own onLog (none in practice): debug level, as data.
      onLog: (entry) => logger.debug({ pid: entry.pid, line: String(entry.message) }, 'process log'),
      // The sandbox has no network: a job's fetch comes here, checked for its tenant.
      fetch: (from, request, signal) => this.fetchFor(from, request, signal),
      jobs: this.trees,
    };
    this.scheduler = new Scheduler(this.node, schedulerOptions);
    this.nudges = new HeartbeatNudge(this.node);
    this.metrics = new WorkerMetrics(
      config.nodeId,
      this.node,
      this.scheduler,
      this.store.queue,
      () => redis.status === 'ready',
    );
    this.runner = new JobRunner({
      nodeId: config.nodeId,
      store: this.store,
      onStarted: () => this.nudges.nudge(),
      onSettled: (pid) => this.trees.forget(pid),
      functions: new FunctionCache(registry),
      jobSupervisor: () => this.jobSupervisor(),
      kill: (pid, reason) => this.node.exit(pid, reason),
      metrics: this.metrics,
      logger,
      policy: {
        defaultTimeoutMs: config.defaultJobTimeoutMs,
        defaultMemoryMb: config.defaultJobMemoryMb,
        maxMemoryMb: config.maxJobMemoryMb,
        tenantMaxRunningPerNode: config.tenantMaxRunningPerNode,
        tenantLimits: config.tenantLimits,
      },
    });
  }

  static async start(config: WorkerConfig, logger: Logger, options: WorkerNodeOptions = {}): Promise<WorkerNode> {
    const redis = connectRedis(config.redis, { maxRetriesPerRequest: null, enableAutoPipelining: true });
    const subscriber = connectRedis(config.redis, { maxRetriesPerRequest: null });
    for (const connection of [redis, subscriber]) {
      connection.on('error', (error: Error) =>
        logger.warn({ err: error.message }, 'Redis connection error; reconnecting'),
      );
    }
    const worker = new WorkerNode(config, logger, redis, subscriber, options);
    try {
      await worker.boot();
    } catch (error) {
      await worker.stop();
      throw error;
    }
    return worker;
  }

  /** The BullMQ queue of jobs (for counts and tests; job state changes go through the store). */
  get queue(): Queue {
    return this.store.queue;
  }

  /** The HTTP port (useful when METRICS_PORT is 0). */
  get httpPort(): number {
    return this.server ? portOf(this.server) : 0;
  }

  get nodeId(): string {
    return this.node.id;
  }

  private async boot(): Promise<void> {
    const { config, logger } = this;
    const published = await publishBuiltins(new FunctionRegistry(this.redis, this.keys));
    logger.info({ functions: published }, 'built-in functions published');
    await this.store.keepFailedPerTenant(config.keepFailedPerTenant);
    await this.store.keepCompletedBytesPerTenant(config.keepCompletedBytesPerTenant);
    this.root = await startSupervisor(this.node, { strategy: 'rest_for_one', intensity: 5, periodMs: 30_000 }, [
      {
        id: 'jobs',
        type: 'supervisor',
        start: async (ctx) =>
          (
            await startSupervisorLink(
              ctx,
              { strategy: 'simple_one_for_one' },
              [jobChildSpec(this.node, this.scheduler)],
              {
                name: JOB_SUPERVISOR,
              },
            )
          ).ref,
      },
      controlListener(this.node, this.subscriber, this.keys, logger, {
        tenantOf: (pid) => this.tenantOf(pid),
        cancelJob: (jobId, tenant, attempt) => this.runner.cancel(jobId, tenant, attempt),
        childEnded: (parentJobId, tenant) => this.trees.childEndedNotice(parentJobId, tenant),
        refused: (reason) => this.metrics.controlRefusedBy(reason),
      }),
      heartbeat(this.node, this.scheduler, this.redis, this.keys, logger, (pid) => this.runner.jobOf(pid), this.nudges),
      consumer(
        this.consumerHandle,
        QUEUE_NAME,
        // BullMQ's Worker on a store connection: the steps that end a job are the store's.
        () => JobStore.connection(connectRedis(config.redis, { maxRetriesPerRequest: null })),
        {
          // processedBy: the job store tells the API (and routes cancels to) the node a job runs on.
          name: config.nodeId,
          prefix: this.keys.prefix,
          concurrency: config.concurrency,
          lockDuration: config.lockDurationMs,
          stalledInterval: config.stalledIntervalMs,
          maxStalledCount: 1,
        },
        (job, token) => this.runner.run(job, token),
        logger,
        {
          onStalled: () => this.metrics.jobStalled(),
          onFailedForStalling: (job) => this.metrics.jobFailed(job.data.tenant, job.data.function, 'stalled', false),
        },
      ),
    ]);
    const root = this.root;
    // The heartbeat reads the supervision tree from here (its first beat, before this, has none).
    this.node.register(ROOT_SUPERVISOR, root.ref as Pid);
    this.node.waitExit(root.ref).then((reason) => {
      if (this.stopped) return;
      logger.fatal({ reason }, 'the root supervisor gave up');
      this.options.onFatal?.(reason);
    });
    this.server = await startHttpServer(config.metricsPort, config.metricsHost, this.metrics.registry, {
      live: () => !this.stopped && this.node.isAlive(root.ref),
      ready: () => this.readiness(),
    });
    logger.info({ port: this.httpPort, concurrency: config.concurrency }, 'worker node started');
  }

  private jobSupervisor(): SupervisorClient {
    const pid = this.node.whereis(JOB_SUPERVISOR);
    if (pid === undefined) throw new Error('The job supervisor is restarting; the job will be retried.');
    if (this.jobs?.ref !== pid) this.jobs = new SupervisorClient(this.node, pid);
    return this.jobs;
  }

  /**
   * Decides whether job code may send to, signal, link to or monitor `to`: only a job process of
   * its own tenant, never the node's own processes (supervisors, consumer) nor a job of another
   * tenant. A process whose tenant this node does not know may do none of it. A pid of another
   * node is allowed here: the message goes out stamped with the sender's tenant and that node
   * checks it. A local pid that no longer lives is allowed (the send is a no-op, a monitor gets
   * `noproc`), as on the BEAM.
   */
  guardSignal(from: Pid, to: Pid | string, operation: SignalOperation): string | undefined {
    const sender = this.tenantOf(from);
    if (sender === undefined) return `${from} runs no job of a known tenant; it may not ${operation} other processes.`;
    const pid = this.node.whereis(to) ?? to;
    if (!isPid(pid)) return undefined; // an unregistered name: the runtime refuses it (badarg).
    if (nodeOfPid(pid) !== this.node.id) return undefined;
    const info = this.node.processInfo(pid);
    if (info === undefined) return undefined;
    if (info.kind === 'green') {
      return `${to} is a process of the worker node itself; jobs may only ${operation} job processes.`;
    }
    const target = this.tenantOf(pid);
    if (target === undefined) return `${to} runs no job; jobs may only ${operation} job processes of their own tenant.`;
    if (target !== sender) return `${to} runs a job of another tenant.`;
    return undefined;
  }

  /** A job's fetch, under the egress policy of its tenant; refused for a process whose tenant is unknown. */
  async fetchFor(from: Pid, request: EgressRequest, signal?: AbortSignal): Promise<EgressResponse> {
    const tenant = this.tenantOf(from);
    if (tenant === undefined) {
      throw new EgressError(`${from} runs no job of a known tenant; it may not fetch.`, 'refused');
    }
    const ofTenant = this.fetchesByTenant.get(tenant) ?? 0;
    if (ofTenant >= FETCHES_PER_TENANT || this.fetchesInFlight >= FETCHES_PER_NODE) {
      throw new EgressError(
        `too many requests in flight on this node (${FETCHES_PER_TENANT} per tenant, ${FETCHES_PER_NODE} in all); await some first`,
        'refused',
      );
    }
    this.fetchesByTenant.set(tenant, ofTenant + 1);
    this.fetchesInFlight++;
    try {
      return await egressFetch(tenant, request, this.egress, EGRESS_LIMITS, signal);
    } finally {
      this.fetchesInFlight--;
      const left = (this.fetchesByTenant.get(tenant) ?? 1) - 1;
      if (left > 0) this.fetchesByTenant.set(tenant, left);
      else this.fetchesByTenant.delete(tenant);
    }
  }

  /**
   * The tenant of a live isolated process of this node, as the runtime carries it from the job's
   * spawn (and from a spawner to what it spawns). Never what the process says.
   */
  private tenantOf(pid: Pid): string | undefined {
    return this.node.kernel.get(pid)?.tenant;
  }

  private readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.draining) reasons.push('draining');
    if (this.redis.status !== 'ready') reasons.push(`redis ${this.redis.status}`);
    if (!this.consumerHandle.worker?.isRunning()) reasons.push('consumer not running');
    return { ready: reasons.length === 0, reasons };
  }

  /** Reports of the node's own supervisors; job processes' ends are the runner's to log and count. */
  private onReport(report: Report): void {
    if (report.type !== 'supervisor' || report.supervisor === this.node.whereis(JOB_SUPERVISOR)) return;
    this.metrics.report(report);
    this.logger.warn(
      {
        supervisor: report.supervisor,
        event: report.event,
        child: report.childId,
        reason: describeReason(report.reason),
      },
      'supervisor report',
    );
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `deadlineMs`, then kills the rest and
   * hands them back to the queue at once (no wait for stall detection), and stops.
   */
  async drain(deadlineMs = this.config.drainDeadlineMs): Promise<{ finished: number; handedBack: number }> {
    if (this.draining) return { finished: 0, handedBack: 0 };
    this.draining = true;
    this.runner.stopTaking();
    await this.consumerHandle.worker?.pause(true);
    const before = this.runner.running.size;
    await this.runner.whenIdle(deadlineMs);
    const handedBack = this.runner.handBackAll((pid) => this.node.exit(pid, 'shutdown'));
    await this.runner.whenIdle(10_000);
    this.logger.info({ finished: before - handedBack, handedBack }, 'drained');
    await this.stop();
    return { finished: before - handedBack, handedBack };
  }

  /** Stops everything at once (running jobs are killed; their locks lapse and others recover them). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.root && this.node.isAlive(this.root.ref)) await this.root.stop('shutdown').catch(() => undefined);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.scheduler.close();
    this.trees.close();
    this.fairClock.close();
    await this.store.close().catch(() => undefined);
    this.redis.disconnect();
    this.subscriber.disconnect();
  }
}
