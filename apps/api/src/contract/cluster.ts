import { createRoute, z } from '@hono/zod-openapi';
import { jobIdParams, json, TAGS, v1Problems } from './common.js';
import { jobSchema } from './jobs.js';

const schedulerStatsSchema = z
  .object({
    cores: z.number().int().optional(),
    maxProcesses: z.number().int().optional(),
    live: z.number().int().optional().openapi({ description: 'Isolated processes holding a sandbox.' }),
    utilization: z.number().optional().openapi({ description: 'Scheduler utilization over the window, 0–1.' }),
    windowMs: z.number().int().optional().openapi({ description: 'The window utilization is measured over.' }),
    runQueue: z
      .record(z.enum(['max', 'high', 'normal', 'low']), z.number().int())
      .optional()
      .openapi({ description: 'Processes waiting for a sandbox, by priority.' }),
    cpuSecondsByPriority: z
      .record(z.enum(['max', 'high', 'normal', 'low']), z.number())
      .optional()
      .openapi({ description: 'CPU time of sandboxes since the node started, by priority.' }),
    mainThread: z
      .object({
        utilization: z.number().openapi({ description: "The node's main thread: share of time busy, 0–1." }),
        lagMs: z.object({ p50: z.number(), p99: z.number(), max: z.number() }),
      })
      .optional(),
  })
  .openapi({ description: "The node's scheduler statistics, as its latest heartbeat says." });

/** What a worker node's heartbeat says about its scheduler. */
export type SchedulerStats = z.output<typeof schedulerStatsSchema>;

const nodeSchema = z
  .object({
    node: z.string(),
    lastSeen: z.iso.datetime().openapi({ description: 'Its latest heartbeat.' }),
    stats: schedulerStatsSchema,
    processes: z.number().int().min(0).openapi({ description: 'Live job processes.' }),
  })
  .openapi('WorkerNode');

const queueSchema = z
  .object({
    name: z.string(),
    counts: z.record(z.string(), z.number().int()).openapi({
      description: 'Jobs by BullMQ state: waiting, prioritized, delayed, active, completed, failed.',
    }),
  })
  .openapi('Queue');

const deadLettersSchema = z.object({ deadLetters: z.array(jobSchema) }).openapi('DeadLetters');

const needsAdmin = 'The key is not the admin key.';

export const listNodesRoute = createRoute({
  method: 'get',
  path: '/nodes',
  operationId: 'listNodes',
  tags: [TAGS.cluster.name],
  summary: 'List live worker nodes (admin)',
  description: 'Each node seen in the last 15 s, with its scheduler statistics.',
  responses: {
    200: json(z.object({ nodes: z.array(nodeSchema) }).openapi('WorkerNodeList'), 'The nodes.'),
    ...v1Problems([403], { 403: needsAdmin }),
  },
});

export const listQueuesRoute = createRoute({
  method: 'get',
  path: '/queues',
  operationId: 'listQueues',
  tags: [TAGS.cluster.name],
  summary: 'Queue depth by state (admin)',
  responses: {
    200: json(z.object({ queues: z.array(queueSchema) }).openapi('QueueList'), 'The queues.'),
    ...v1Problems([403], { 403: needsAdmin }),
  },
});

export const listDeadLettersRoute = createRoute({
  method: 'get',
  path: '/dead-letters',
  operationId: 'listDeadLetters',
  tags: [TAGS.cluster.name],
  summary: 'List dead letters',
  description: "Failed and cancelled jobs, most recently ended first: yours (every tenant's for the admin key).",
  responses: { 200: json(deadLettersSchema, 'The dead letters.'), ...v1Problems([]) },
});

export const requeueDeadLetterRoute = createRoute({
  method: 'post',
  path: '/dead-letters/{id}/requeue',
  operationId: 'requeueDeadLetter',
  tags: [TAGS.cluster.name],
  summary: 'Requeue a dead letter',
  request: { params: jobIdParams },
  responses: {
    202: json(jobSchema, 'Queued again.'),
    ...v1Problems([404, 409, 429], {
      404: 'No such dead letter of yours.',
      409: 'The job is not a dead letter (it is not failed).',
    }),
  },
});
