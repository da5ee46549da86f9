import { decodeControl, type JobData, type Keys, OPERATOR_TENANT, type RedisClient } from '@beamline/jobs';
import type { ChildSpec, IsolatedSpawnOptions, Node, Pid, ProcessContext, Scheduler } from '@beamline/runtime';
import { type Job, Worker, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import { FairControlQueue, senderTenantOf } from './control-queue.js';
import type { JobLaunch } from './job-runner.js';
import type { ControlRefusal } from './metrics.js';
import { type ProcessRelations, readSupervisionTree, relationsOf } from './supervision-tree.js';

/**
 * The node's own components, each a green process under the root supervisor: when one fails,
 * the supervisor restarts it; when they keep failing, the node gives up and exits non-zero.
 */

/** The job supervisor's only child spec: a job's isolated process, never restarted locally. */
export function jobChildSpec(node: Node, scheduler: Scheduler): ChildSpec {
  return {
    id: 'job',
    restart: 'temporary',
    shutdown: 'brutal_kill',
    start: (ctx, ...args) => {
      const launch = args[0] as JobLaunch;
      const { data } = launch.job;
      // `tenant`: the security domain of the process; the runtime never shares a warm sandbox
      // between domains.
      const options: IsolatedSpawnOptions = {
        ...launch.limits,
        tenant: launch.tenant,
        priority: data.priority,
        label: `${data.function}@${data.version}`,
        onResult: launch.onResult,
        onProgress: launch.onProgress,
        onLog: launch.onLog,
        onUsage: launch.onUsage,
      };
      const pid = scheduler.spawnLink(ctx, launch.moduleSource, data.input, options);
      launch.onSpawned(pid);
      node.kernel.onExit(pid, launch.onExit);
      return pid;
    },
  };
}

/**
 * A warning that a flood cannot amplify: at most one line per `everyMs` per kind, saying how many
 * occurrences it stands for.
 */
export class RateLimitedWarning {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: object, message: string): void {
    const entry = this.last.get(kind);
    const now = this.now();
    if (entry && now - entry.at < this.everyMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.logger.warn({ ...fields, kind, ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) }, message);
  }
}

/** What the control listener needs to know about this node's job processes and where to count refusals. */
/** Control messages handled per turn of the event loop, and waiting at most. */
const CONTROL_BATCH = 200;
const CONTROL_QUEUE = 20_000;
const CONTROL_QUEUE_BYTES = 64 * 1024 * 1024;

export interface ControlGate {
  /** The tenant of a live job process of this node, undefined for any other pid. */
  readonly tenantOf: (pid: Pid) => string | undefined;
  /** Cancels a job of `tenant` this node runs (or is about to); false when the job is another tenant's. */
  readonly cancelJob: (jobId: string, tenant: string, attempt: number | undefined) => boolean;
  /** A child job of `parentJobId` (of `tenant`) ended (ADR 0013); false when that parent runs here for another tenant. */
  readonly childEnded: (parentJobId: string, tenant: string) => boolean;
  readonly refused: (reason: ControlRefusal) => void;
}

/**
 * Listens on this node's control channel and delivers messages and exit signals to local job
 * processes: only to a live isolated job process whose tenant is the one the platform stamped
 * on the message (any job for the operator marker). Everything else is dropped and counted
 * (`beamline_control_refused_total{reason}`), with at most one warning per reason every 10 s.
 *
 * Jobs on other nodes choose what arrives here, and as fast as they like: messages are queued
 * and handled at most CONTROL_BATCH per turn of the event loop, so lock renewal and supervision
 * run between batches. They wait per sender tenant and are taken in turns (FairControlQueue): past
 * CONTROL_QUEUE messages or CONTROL_QUEUE_BYTES waiting, the tenant with the most waiting loses
 * its oldest (`overflow`), so a tenant's flood never crowds out another tenant's messages.
 */
export function controlListener(
  node: Node,
  subscriber: RedisClient,
  keys: Keys,
  logger: Logger,
  gate: ControlGate,
): ChildSpec {
  const warning = new RateLimitedWarning(logger);
  const refuse = (reason: ControlRefusal, fields: object, message: string) => {
    gate.refused(reason);
    warning.warn(reason, fields, message);
  };
  return {
    id: 'control',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          const channel = keys.control(node.id);
          const queue = new FairControlQueue(CONTROL_QUEUE, CONTROL_QUEUE_BYTES, (tenant) =>
            refuse('overflow', { channel, tenant }, 'dropped control messages: more arrive than the node handles'),
          );
          let draining = false;
          const drain = () => {
            for (const text of queue.take(CONTROL_BATCH)) handle(text);
            if (queue.length > 0) setImmediate(drain);
            else draining = false;
          };
          const onMessage = (from: string, text: string) => {
            if (from !== channel) return;
            queue.push(senderTenantOf(text), text);
            if (!draining) {
              draining = true;
              setImmediate(drain);
            }
          };
          const handle = (text: string) => {
            const message = decodeControl(text);
            if (!message) {
              refuse('malformed', { channel }, 'dropped malformed or unstamped control messages');
              return;
            }
            if (message.type === 'child') {
              if (!gate.childEnded(message.parent, message.tenant)) {
                refuse('tenant_mismatch', { type: message.type }, "dropped control messages for another tenant's job");
              }
              return;
            }
            if (message.type === 'cancel') {
              if (!gate.cancelJob(message.jobId, message.tenant, message.attempt)) {
                refuse('tenant_mismatch', { type: message.type }, "dropped control messages for another tenant's job");
              }
              return;
            }
            const target = gate.tenantOf(message.to);
            if (target === undefined || node.kernel.get(message.to)?.kind !== 'isolated') {
              refuse('no_such_job', { type: message.type }, 'control messages reach live job processes only; dropped');
              return;
            }
            if (message.tenant !== OPERATOR_TENANT && message.tenant !== target) {
              refuse('tenant_mismatch', { type: message.type }, "dropped control messages for another tenant's job");
              return;
            }
            try {
              if (message.type === 'send') node.kernel.send(message.from, message.to, message.message);
              else node.kernel.exit(message.from, message.to, message.reason);
            } catch (error) {
              refuse(
                'undeliverable',
                { err: error instanceof Error ? error.message : String(error) },
                'control message could not be delivered',
              );
            }
          };
          const cleanUp = () => {
            subscriber.off('message', onMessage);
            subscriber.unsubscribe(channel).catch(() => undefined);
          };
          // A killed process's body may be parked mid-await: the abort signal cleans up in any case.
          self.signal.addEventListener('abort', cleanUp, { once: true });
          subscriber.on('message', onMessage);
          await subscriber.subscribe(channel);
          await self.receive(() => false);
        },
        { label: 'control_listener' },
      ),
  };
}

/** Holds the BullMQ Worker the consumer process runs, for draining and readiness. */
export class ConsumerHandle {
  worker: Worker<JobData> | undefined;
}

/** What the consumer tells the node about stalls: one seen, and a job failed for stalling too often. */
export interface StallEvents {
  onStalled(): void;
  onFailedForStalling(job: Job<JobData>): void;
}

/** Runs the BullMQ Worker; if BullMQ closes it unexpectedly, the process fails and is restarted. */
export function consumer(
  handle: ConsumerHandle,
  queueName: string,
  connect: () => RedisClient,
  options: Omit<WorkerOptions, 'connection'>,
  run: (job: Job<JobData>, token: string | undefined) => Promise<unknown>,
  logger: Logger,
  stalls: StallEvents,
): ChildSpec {
  return {
    id: 'consumer',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          const connection = connect();
          const worker = new Worker<JobData>(queueName, run, { ...options, connection });
          handle.worker = worker;
          worker.on('error', (error) => logger.warn({ err: error }, 'BullMQ worker error'));
          worker.on('stalled', (jobId) => {
            stalls.onStalled();
            logger.warn({ jobId }, 'job stalled (its node stopped renewing the lock)');
          });
          // A job that stalled more often than allowed is failed by BullMQ before any processor
          // runs (its deferred failure): this is the one place the node learns that it ended.
          worker.on('failed', (job, error) => {
            if (job?.deferredFailure === undefined || error.message !== job.deferredFailure) return;
            stalls.onFailedForStalling(job);
            logger.warn({ jobId: job.id, reason: job.deferredFailure }, 'job failed for stalling too often');
          });
          worker.on('closed', () => self.send(self.self, 'closed'));
          try {
            await self.receive((m) => m === 'closed');
            if (handle.worker === worker) throw new Error('the BullMQ worker closed unexpectedly');
          } finally {
            if (handle.worker === worker) handle.worker = undefined;
            await worker.close(true).catch(() => undefined);
            connection.disconnect();
          }
        },
        { label: 'consumer' },
      ),
  };
}

/** What the heartbeat says about each live job process, for the API's process listing. */
function liveProcesses(
  node: Node,
  jobOf: (pid: string) => { jobId: string; tenant: string } | undefined,
): { processes: object[]; relations: Record<string, ProcessRelations> } {
  const processes: object[] = [];
  // Apart from the processes: the API's process listing passes each process's fields on as they are.
  const relations: Record<string, ProcessRelations> = {};
  for (const pid of node.processes()) {
    const info = node.processInfo(pid);
    if (info?.kind !== 'isolated') continue;
    const related = relationsOf(node, pid);
    if (related) relations[pid] = related;
    processes.push({
      pid,
      function: info.initialFunction,
      status: info.status,
      cpuTimeNs: info.cpuTimeNs,
      memory: info.memory,
      messageQueueLength: info.messageQueueLength,
      priority: info.priority,
      ...jobOf(pid),
    });
    if (processes.length >= 1000) break;
  }
  return { processes, relations };
}

/** The registered name of the heartbeat process. */
const HEARTBEAT = 'beamline_heartbeat';
/** Beats are at least this far apart, however often jobs start. */
const MIN_BEAT_GAP_MS = 250;

/**
 * Asks the heartbeat for an early beat (a job started: the API learns where it runs within
 * MIN_BEAT_GAP_MS instead of a full interval). At most one request waits at a time.
 */
export class HeartbeatNudge {
  private pending = false;

  constructor(private readonly node: Node) {}

  nudge(): void {
    if (this.pending || this.node.whereis(HEARTBEAT) === undefined) return;
    this.pending = true;
    this.node.send(HEARTBEAT, 'beat');
  }

  /** Called by the heartbeat as it beats. */
  beaten(): void {
    this.pending = false;
  }
}

/**
 * Publishes the node's presence, scheduler stats, job processes (with their links and monitors)
 * and supervision tree every few seconds, for the API's cluster view and the console.
 */
export function heartbeat(
  node: Node,
  scheduler: Scheduler,
  redis: RedisClient,
  keys: Keys,
  logger: Logger,
  jobOf: (pid: string) => { jobId: string; tenant: string } | undefined,
  nudges: HeartbeatNudge,
  everyMs = 5000,
): ChildSpec {
  return {
    id: 'heartbeat',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          self.register(HEARTBEAT);
          for (;;) {
            nudges.beaten();
            try {
              const tree = await readSupervisionTree(self, node, jobOf);
              const beat = { at: Date.now(), stats: scheduler.stats(), ...liveProcesses(node, jobOf), tree };
              await redis
                .multi()
                .zadd(keys.nodes, Date.now(), node.id)
                .zremrangebyscore(keys.nodes, 0, Date.now() - 60_000)
                .set(keys.node(node.id), JSON.stringify(beat), 'EX', 15)
                .exec();
            } catch (error) {
              logger.warn({ err: error }, 'heartbeat failed; retrying');
            }
            await self.sleep(MIN_BEAT_GAP_MS);
            await self.receive((m) => m === 'beat', everyMs - MIN_BEAT_GAP_MS);
          }
        },
        { label: 'heartbeat' },
      ),
  };
}
