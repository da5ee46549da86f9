import { EXIT_REASONS, FAULTS, JOB_STATES, jobSpecSchema, prioritySchema } from '@beamline/jobs';
import { createRoute, z } from '@hono/zod-openapi';
import { JOB_ID, jobIdParams, json, queryInteger, TAGS, v1Problems } from './common.js';

/** Largest batch accepted by POST /v1/jobs/batch. */
export const MAX_BATCH = 500;

/** Most log lines one GET /v1/jobs/{id}/logs returns. */
export const MAX_LOG_PAGE = 1000;

/** What a client may send for one job (the worker's spec without server-side fields). */
export const submitJobSchema = jobSpecSchema.omit({ idempotencyKey: true }).openapi('JobSubmission', {
  description:
    'A job: the function ("name" or "name@version") and its input; limits, priority, attempts and backoff default to the function\'s defaults.',
});

export const batchSchema = z
  .strictObject({ jobs: z.array(submitJobSchema).min(1).max(MAX_BATCH) })
  .openapi('JobBatch', { description: `Up to ${MAX_BATCH} jobs, accepted all or none.` });

export const idempotencyKeySchema = z.string().min(1).max(256);

export const listQuery = z.strictObject({
  state: z
    .enum(JOB_STATES)
    .optional()
    .openapi({ param: { description: 'Only jobs in this state.' } }),
  function: z
    .string()
    .max(100)
    .optional()
    .openapi({ param: { description: 'Only jobs of this function.' } }),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'a cursor returned by a previous page')
    .optional()
    .openapi({ param: { description: "The previous page's nextCursor." } }),
  limit: queryInteger(z.number().int().min(1).max(100))
    .default(20)
    .openapi({ param: { description: 'Jobs per page.' } }),
});

export const waitQuery = z.strictObject({
  timeoutMs: queryInteger(z.number().int().min(0).max(60_000))
    .default(30_000)
    .openapi({ param: { description: 'How long to wait for the job to end, in milliseconds.' } }),
});

export const logsQuery = z.strictObject({
  offset: queryInteger(z.number().int().min(0))
    .default(0)
    .openapi({ param: { description: 'The first line to return (0: the oldest).' } }),
  limit: queryInteger(z.number().int().min(1).max(MAX_LOG_PAGE))
    .default(100)
    .openapi({ param: { description: 'Most lines to return.' } }),
});

const jobExitSchema = z
  .object({
    reason: z.enum(EXIT_REASONS),
    message: z.string(),
    stack: z.string().optional(),
    fault: z.enum(FAULTS).optional().openapi({ description: 'For `error`: a fault outside the function body.' }),
  })
  .openapi('JobExit', { description: 'How the last run ended abnormally.' });

export const jobSchema = z
  .object({
    id: z.string().regex(JOB_ID).openapi({ example: '42' }),
    state: z.enum(JOB_STATES),
    function: z.string().openapi({ example: 'resize-image' }),
    version: z.number().int().min(1).openapi({ description: 'The function version, pinned at submission.' }),
    priority: prioritySchema,
    input: z.unknown().openapi({ description: 'What the function is called with.' }),
    attempts: z.object({ made: z.number().int().min(0), max: z.number().int().min(1) }),
    progress: z.unknown().openapi({ description: 'The latest value the job reported with ctx.progress.' }),
    pid: z.string().optional().openapi({ description: 'Its process, while it runs (once its node has said so).' }),
    node: z.string().optional().openapi({ description: 'The worker node it runs on, while it runs.' }),
    result: z.unknown().optional().openapi({ description: 'What the function returned, once completed.' }),
    exit: jobExitSchema.optional(),
    submittedAt: z.iso.datetime(),
    startedAt: z.iso.datetime().optional(),
    finishedAt: z.iso.datetime().optional(),
    schedule: z.string().optional().openapi({ description: 'For a run of a schedule: the schedule id.' }),
    parent: z
      .object({
        id: z.string().regex(JOB_ID),
        relation: z.enum(['link', 'monitor', 'none']).openapi({
          description:
            '`link`: its failure kills the parent, and the parent failing for good or being cancelled cancels it; `monitor`: its end is a message to the parent; `none`: neither.',
        }),
      })
      .optional()
      .openapi({ description: 'For a job started by a job (ctx.startJob): that job, and how the two are tied.' }),
    children: z
      .object({
        total: z.number().int().min(0),
        ids: z
          .array(z.string().regex(JOB_ID))
          .optional()
          .openapi({ description: 'The first 100 children, first started first (on GET /v1/jobs/{id} only).' }),
      })
      .optional()
      .openapi({ description: 'For a job that started jobs (ctx.startJob): how many, and which.' }),
  })
  .openapi('Job');

const jobPageSchema = z
  .object({
    jobs: z.array(jobSchema),
    nextCursor: z.string().nullable().openapi({ description: 'The cursor of the next page; null on the last.' }),
  })
  .openapi('JobPage');

const acceptedJobsSchema = z.object({ jobs: z.array(jobSchema) }).openapi('AcceptedJobs');

const cancellationSchema = z
  .object({
    id: z.string(),
    outcome: z.enum(['removed', 'cancelling', 'finished']).openapi({
      description:
        '`removed`: it had not started; `cancelling`: its process is being killed; `finished`: it had already ended.',
    }),
    job: z.union([jobSchema, z.null()]).openapi({ description: 'The job as it stands now; null once removed.' }),
  })
  .openapi('Cancellation');

export const jobLogsSchema = z
  .object({
    logs: z.array(z.string()).openapi({ description: 'The lines, oldest first.' }),
    total: z.number().int().min(0).openapi({ description: 'How many lines the log has in all.' }),
    offset: z.number().int().min(0).openapi({ description: 'The index of the first line returned.' }),
  })
  .openapi('JobLogs');

export const childrenQuery = z.strictObject({
  offset: queryInteger(z.number().int().min(0))
    .default(0)
    .openapi({ param: { description: 'The first child to return (0: the first started).' } }),
  limit: queryInteger(z.number().int().min(1).max(100))
    .default(20)
    .openapi({ param: { description: 'Most children to return.' } }),
});

const jobChildrenSchema = z
  .object({
    jobs: z.array(jobSchema).openapi({ description: 'The children, first started first.' }),
    total: z.number().int().min(0).openapi({ description: 'How many children the job has started in all.' }),
    offset: z.number().int().min(0).openapi({ description: 'The index of the first child returned.' }),
  })
  .openapi('JobChildren');

const noSuchJob = 'No such job of yours.';

export const submitJobRoute = createRoute({
  method: 'post',
  path: '/',
  operationId: 'submitJob',
  tags: [TAGS.jobs.name],
  summary: 'Submit a job',
  description:
    'Queues a job for the named function. With an `Idempotency-Key`, the same key and body return the original job (200) and a different body is a conflict (409).',
  request: {
    headers: z.object({
      'Idempotency-Key': idempotencyKeySchema
        .optional()
        .openapi({ description: 'Makes the submission safe to retry: the key names it, per tenant.' }),
      Prefer: z.string().optional().openapi({
        description:
          'RFC 7240. `wait=<seconds>` (at most 60) answers when the job ends (200, with its result or exit) or when the wait passes (202, the job as it stands), in one request. Other preferences are ignored.',
        example: 'wait=10',
      }),
    }),
    body: { required: true, content: { 'application/json': { schema: submitJobSchema } } },
  },
  responses: {
    202: {
      ...json(jobSchema, 'Accepted: the job as queued.'),
      headers: { Location: { description: 'The job.', schema: { type: 'string' } } },
    },
    200: json(
      jobSchema,
      'With `Prefer: wait`, the job ended within the wait: the job as it ended. Or this Idempotency-Key and body were submitted before: the original job.',
    ),
    ...v1Problems([400, 404, 409, 413, 415, 429], {
      404: 'The function does not exist.',
      409: 'This Idempotency-Key was used with a different body.',
    }),
  },
});

export const submitBatchRoute = createRoute({
  method: 'post',
  path: '/batch',
  operationId: 'submitJobBatch',
  tags: [TAGS.jobs.name],
  summary: `Submit up to ${MAX_BATCH} jobs at once`,
  description: 'All jobs are validated first, then queued in one step: all of them are accepted, or none.',
  request: { body: { required: true, content: { 'application/json': { schema: batchSchema } } } },
  responses: {
    202: json(acceptedJobsSchema, 'Accepted: the jobs as queued, in the order given.'),
    ...v1Problems([400, 404, 413, 415, 429], { 404: 'A function does not exist; no job was accepted.' }),
  },
});

export const listJobsRoute = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listJobs',
  tags: [TAGS.jobs.name],
  summary: 'List your jobs, newest first',
  description: 'Pages of jobs, optionally of one state or function; follow `nextCursor` for the next page.',
  request: { query: listQuery },
  responses: { 200: json(jobPageSchema, 'A page of jobs.'), ...v1Problems([400]) },
});

export const getJobRoute = createRoute({
  method: 'get',
  path: '/{id}',
  operationId: 'getJob',
  tags: [TAGS.jobs.name],
  summary: 'Get a job',
  description: 'Its state, function and version, attempts, progress, and its result or exit once it has ended.',
  request: { params: jobIdParams },
  responses: { 200: json(jobSchema, 'The job.'), ...v1Problems([404], { 404: noSuchJob }) },
});

export const cancelJobRoute = createRoute({
  method: 'delete',
  path: '/{id}',
  operationId: 'cancelJob',
  tags: [TAGS.jobs.name],
  summary: 'Cancel a job',
  description: 'A waiting or delayed job is removed; a running one is killed wherever it runs and ends as `cancelled`.',
  request: { params: jobIdParams },
  responses: {
    202: json(cancellationSchema, 'Cancelled, or being cancelled.'),
    409: json(cancellationSchema, 'The job had already ended: nothing was changed.'),
    ...v1Problems([404], { 404: noSuchJob }),
  },
});

export const retryJobRoute = createRoute({
  method: 'post',
  path: '/{id}/retry',
  operationId: 'retryJob',
  tags: [TAGS.jobs.name],
  summary: 'Retry a failed or cancelled job',
  request: { params: jobIdParams },
  responses: {
    202: json(jobSchema, 'Queued again.'),
    ...v1Problems([404, 409, 429], { 404: noSuchJob, 409: 'The job is neither failed nor cancelled.' }),
  },
});

export const waitJobRoute = createRoute({
  method: 'get',
  path: '/{id}/wait',
  operationId: 'waitForJob',
  tags: [TAGS.jobs.name],
  summary: 'Wait for a job to end (long poll)',
  description: 'Answers as soon as the job ends, or with 408 and the job as it stands when `timeoutMs` passes.',
  request: { params: jobIdParams, query: waitQuery },
  responses: {
    200: json(jobSchema, 'The job has ended.'),
    408: json(jobSchema, 'The job had not ended within timeoutMs: the job as it stands.'),
    ...v1Problems([400, 404], { 404: noSuchJob }),
  },
});

export const jobEventsRoute = createRoute({
  method: 'get',
  path: '/{id}/events',
  operationId: 'streamJobEvents',
  tags: [TAGS.jobs.name],
  summary: "Follow a job's events (server-sent events)",
  description:
    'Events: `state` (the job, first and at each change), `progress` ({progress}), `log` ({line}), and `end` with the final job; `timeout` ({reconnect, job}) after 10 minutes.',
  request: { params: jobIdParams },
  responses: {
    200: {
      description: 'The event stream.',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...v1Problems([404], { 404: noSuchJob }),
  },
});

export const jobChildrenRoute = createRoute({
  method: 'get',
  path: '/{id}/children',
  operationId: 'listJobChildren',
  tags: [TAGS.jobs.name],
  summary: "List a job's children",
  description:
    'The jobs this job started with `ctx.startJob`, first started first, by pages of at most 100, each as `GET /v1/jobs/{id}` shows it. A child that has expired is left out of the page but counted in `total`.',
  request: { params: jobIdParams, query: childrenQuery },
  responses: {
    200: json(jobChildrenSchema, 'A page of the children.'),
    ...v1Problems([400, 404], { 404: noSuchJob }),
  },
});

export const jobLogsRoute = createRoute({
  method: 'get',
  path: '/{id}/logs',
  operationId: 'getJobLogs',
  tags: [TAGS.jobs.name],
  summary: "Read a job's log",
  description: `A page of the lines the job logged (ctx.log, console), oldest first, at most ${MAX_LOG_PAGE} at a time. The log is kept as long as the job, after it ended too.`,
  request: { params: jobIdParams, query: logsQuery },
  responses: {
    200: json(jobLogsSchema, 'A page of the log.'),
    ...v1Problems([400, 404], { 404: noSuchJob }),
  },
});
