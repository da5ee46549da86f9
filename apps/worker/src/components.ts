import { decodeControl, definedLimits, type JobData, type Keys } from '@beamline/jobs';
import type { ChildSpec, Node, ProcessContext, Scheduler } from '@beamline/runtime';
import { type Job, Worker, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JobLaunch } from './job-runner.js';

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
      const pid = scheduler.spawnLink(ctx, launch.moduleSource, data.input, {
        ...definedLimits(data.limits),
        priority: data.priority,
        label: `${data.function}@${data.version}`,
        onResult: launch.onResult,
        onProgress: launch.onProgress,
        onLog: launch.onLog,
        onUsage: launch.onUsage,
      });
      node.kernel.onExit(pid, launch.onExit);
      return pid;
    },
  };
}

/** Listens on this node's control channel and delivers messages and exit signals to local pids. */
export function controlListener(node: Node, subscriber: Redis, keys: Keys, logger: Logger): ChildSpec {
  return {
    id: 'control',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          const channel = keys.control(node.id);
          const onMessage = (from: string, text: string) => {
            if (from !== channel) return;
            const message = decodeControl(text);
            if (!message) {
              logger.warn({ channel }, 'ignored a malformed control message');
              return;
            }
            if (node.processInfo(message.to)?.kind !== 'isolated') {
              logger.warn({ to: message.to, type: message.type }, 'control messages reach job processes only; ignored');
              return;
            }
            try {
              if (message.type === 'send') node.kernel.send(message.from, message.to, message.message);
              else node.kernel.exit(message.from, message.to, message.reason);
            } catch (error) {
              logger.warn({ err: error, to: message.to }, 'control message could not be delivered');
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

/** Runs the BullMQ Worker; if BullMQ closes it unexpectedly, the process fails and is restarted. */
export function consumer(
  handle: ConsumerHandle,
  queueName: string,
  options: WorkerOptions,
  run: (job: Job<JobData>, token: string | undefined) => Promise<unknown>,
  logger: Logger,
  onStalled: () => void,
): ChildSpec {
  return {
    id: 'consumer',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          const worker = new Worker<JobData>(queueName, run, options);
          handle.worker = worker;
          worker.on('error', (error) => logger.warn({ err: error }, 'BullMQ worker error'));
          worker.on('stalled', (jobId) => {
            onStalled();
            logger.warn({ jobId }, 'job stalled (its node stopped renewing the lock)');
          });
          worker.on('closed', () => self.send(self.self, 'closed'));
          try {
            await self.receive((m) => m === 'closed');
            if (handle.worker === worker) throw new Error('the BullMQ worker closed unexpectedly');
          } finally {
            if (handle.worker === worker) handle.worker = undefined;
            await worker.close(true).catch(() => undefined);
          }
        },
        { label: 'consumer' },
      ),
  };
}

/** Publishes the node's presence and scheduler stats every few seconds, for the API's cluster view. */
/** What the heartbeat says about each live job process, for the API's process listing. */
function liveProcesses(node: Node, jobOf: (pid: string) => { jobId: string; tenant: string } | undefined): object[] {
  const processes: object[] = [];
  for (const pid of node.processes()) {
    const info = node.processInfo(pid);
    if (info?.kind !== 'isolated') continue;
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
  return processes;
}

export function heartbeat(
  node: Node,
  scheduler: Scheduler,
  redis: Redis,
  keys: Keys,
  logger: Logger,
  jobOf: (pid: string) => { jobId: string; tenant: string } | undefined,
): ChildSpec {
  const everyMs = 5000;
  return {
    id: 'heartbeat',
    start: (ctx) =>
      ctx.spawnLink(
        async (self: ProcessContext) => {
          for (;;) {
            try {
              await redis
                .multi()
                .zadd(keys.nodes, Date.now(), node.id)
                .zremrangebyscore(keys.nodes, 0, Date.now() - 60_000)
                .set(
                  keys.node(node.id),
                  JSON.stringify({ at: Date.now(), stats: scheduler.stats(), processes: liveProcesses(node, jobOf) }),
                  'EX',
                  15,
                )
                .exec();
            } catch (error) {
              logger.warn({ err: error }, 'heartbeat failed; retrying');
            }
            await self.sleep(everyMs);
          }
        },
        { label: 'heartbeat' },
      ),
  };
}
