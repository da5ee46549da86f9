import { createRoute, z } from '@hono/zod-openapi';
import { json, pidParams, TAGS, v1Problems } from './common.js';

export const messageSchema = z
  .strictObject({ message: z.unknown().openapi({ description: 'Any JSON value.' }) })
  .refine((b) => 'message' in b, { message: 'the body must be { "message": <any JSON value> }' })
  .openapi('ProcessMessage', { required: ['message'] });

const deliverySchema = z
  .object({
    pid: z.string(),
    jobId: z.string(),
    delivered: z.boolean().openapi({ description: 'Whether a node received it (always true on a single Redis).' }),
  })
  .openapi('Delivery');

/** A live job process as its node's heartbeat lists it. */
const heartbeatProcessSchema = z.object({
  pid: z.string(),
  jobId: z.string().optional(),
  tenant: z.string().optional(),
  function: z.string().optional(),
  status: z.string().optional().openapi({ description: 'runnable, running, waiting or exiting.' }),
  cpuTimeNs: z.number().optional().openapi({ description: 'CPU time used, in nanoseconds.' }),
  memory: z.number().optional().openapi({ description: 'Resident bytes of its sandbox.' }),
  messageQueueLength: z.number().int().optional(),
  priority: z.string().optional(),
});

export type HeartbeatProcess = z.output<typeof heartbeatProcessSchema>;

/**
 * A job process's links and the processes it monitors, as its node's heartbeat lists them beside
 * the processes (at most 50 of each; `linksMore`/`monitorsMore` count the rest). Kept out of the
 * process listing: the pids may be other tenants'.
 */
export interface HeartbeatRelations {
  readonly links: string[];
  readonly monitors: string[];
  readonly linksMore?: number;
  readonly monitorsMore?: number;
}

/** One process of a node's supervision tree, as its heartbeat publishes it (apps/worker/src/supervision-tree.ts). */
export interface SupervisionEntry {
  /** Absent while its supervisor restarts it, or once it stopped (`state`). */
  readonly pid?: string;
  /** Its child id under its supervisor. */
  readonly id?: string;
  /** Its registered name. */
  readonly name?: string;
  readonly kind: 'supervisor' | 'worker';
  /** What it runs: a green process's initial function, a job's function@version. */
  readonly label?: string;
  readonly strategy?: string;
  readonly state?: 'restarting' | 'stopped';
  readonly children?: SupervisionEntry[];
  /** Children left out. */
  readonly more?: number;
  readonly jobId?: string;
  readonly tenant?: string;
}

const processSchema = heartbeatProcessSchema
  .extend({ node: z.string() })
  .openapi('Process', { description: "A live job process, as its node's latest heartbeat (at most 5 s old) says." });

const processListSchema = z.object({ processes: z.array(processSchema) }).openapi('ProcessList');

const noSuchProcess =
  'No live process of yours has this pid (reason `noproc`): its job has ended, or its node is gone.';

export const sendMessageRoute = createRoute({
  method: 'post',
  path: '/{pid}/messages',
  operationId: 'sendProcessMessage',
  tags: [TAGS.processes.name],
  summary: "Send a message to a job process's mailbox",
  description: "What the process's `ctx.receive()` returns next.",
  request: {
    params: pidParams,
    body: { required: true, content: { 'application/json': { schema: messageSchema } } },
  },
  responses: {
    202: json(deliverySchema, 'Sent.'),
    ...v1Problems([400, 404, 413, 415], { 404: noSuchProcess }),
  },
});

export const killProcessRoute = createRoute({
  method: 'delete',
  path: '/{pid}',
  operationId: 'killProcess',
  tags: [TAGS.processes.name],
  summary: 'Kill a job process',
  description: 'It exits with reason `killed`; its job is retried as its policy says.',
  request: { params: pidParams },
  responses: { 202: json(deliverySchema, 'Sent.'), ...v1Problems([404], { 404: noSuchProcess }) },
});

export const listProcessesRoute = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listProcesses',
  tags: [TAGS.processes.name],
  summary: 'List live job processes across the cluster',
  description: "Yours (every tenant's for the admin key).",
  responses: { 200: json(processListSchema, 'The processes.'), ...v1Problems([]) },
});
