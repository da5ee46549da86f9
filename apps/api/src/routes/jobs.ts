import { createHash } from 'node:crypto';
import { idempotentJobId, type JobData, JobSpecError, type JobView, jobSpecSchema } from '@beamline/jobs';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { AuthVariables } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, invalid, notFound } from '../problem.js';
import { type ApiJob, ENDED, toApiJob } from '../views.js';
import { readJson } from './body.js';

/** The ids jobs get: BullMQ's counter, or an idempotency id. Anything else names no job (and may name BullMQ's own keys). */
const JOB_ID = /^(\d{1,16}|idem-[0-9a-f]{32})$/;

/** An SSE stream ends after this long; clients reconnect (EventSource does so by itself). */
const MAX_STREAM_MS = 10 * 60_000;

/** Largest batch accepted by POST /v1/jobs/batch. */
export const MAX_BATCH = 500;

/** What a client may send for one job (the worker's spec without server-side fields). */
export const submitJobSchema = jobSpecSchema.omit({ idempotencyKey: true });
export const batchSchema = z.strictObject({ jobs: z.array(submitJobSchema).min(1).max(MAX_BATCH) });

const listQuery = z.strictObject({
  state: z.enum(['waiting', 'delayed', 'running', 'completed', 'failed', 'cancelled']).optional(),
  function: z.string().max(100).optional(),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'a cursor returned by a previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
const waitQuery = z.strictObject({ timeoutMs: z.coerce.number().int().min(0).max(60_000).default(30_000) });

type Env = { Variables: AuthVariables };

export function jobRoutes(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();

  /** The job, if it belongs to the caller's tenant (another tenant's job does not exist for them). */
  const visible = async (tenant: string, id: string): Promise<JobView> => {
    if (!JOB_ID.test(id)) throw notFound(`Job ${id}`);
    const view = await deps.jobs.get(id);
    if (!view || view.tenant !== tenant) throw notFound(`Job ${id}`);
    return view;
  };

  const backlogAllows = async (tenant: string, adding: number) => {
    const backlog = Number((await deps.redis.hget(deps.keys.backlog, tenant)) ?? 0);
    if (backlog + adding > deps.config.backlogCap) {
      deps.metrics.rejected.inc({ reason: 'backlog' });
      throw new ApiError(
        429,
        'Too many jobs',
        `Tenant ${tenant} has ${backlog} jobs not yet ended; the cap is ${deps.config.backlogCap}. Retry later.`,
        { backlog, cap: deps.config.backlogCap },
        { 'retry-after': '10' },
      );
    }
  };

  const submitOne = async (
    tenant: string,
    spec: z.infer<typeof submitJobSchema>,
    idempotencyKey?: string,
  ): Promise<{ job: ApiJob; replayed: boolean }> => {
    const requestHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    if (idempotencyKey !== undefined) {
      const existing = await deps.jobs.get(idempotentJobId(tenant, idempotencyKey));
      if (existing) return { job: checkReplay(existing, requestHash, deps), replayed: true };
    }
    let added: Awaited<ReturnType<typeof deps.jobs.submit>>;
    try {
      added = await deps.jobs.submit({ ...spec, ...(idempotencyKey ? { idempotencyKey } : {}) }, tenant, {
        requestHash,
      });
    } catch (error) {
      if (error instanceof JobSpecError) {
        deps.metrics.rejected.inc({ reason: 'invalid' });
        throw new ApiError(
          error.field === 'function' ? 404 : 400,
          error.field === 'function' ? 'Not found' : 'Invalid request',
          error.message,
          {
            errors: [{ path: error.field, message: error.message }],
          },
        );
      }
      throw error;
    }
    if (idempotencyKey !== undefined) {
      // The key may have been taken by a concurrent request: compare with what is stored.
      const view = (await deps.jobs.get(added.id as string)) as JobView;
      return { job: checkReplay(view, requestHash, deps), replayed: false };
    }
    deps.metrics.submitted.inc();
    return { job: toApiJob(justSubmitted(added)), replayed: false };
  };

  app.post('/', async (c) => {
    const tenant = c.get('tenant');
    const parsed = submitJobSchema.safeParse(await readJson(c));
    if (!parsed.success) throw invalid(parsed.error);
    const key = c.req.header('idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 256)) {
      throw new ApiError(400, 'Invalid request', 'The Idempotency-Key header must be 1–256 characters.');
    }
    await backlogAllows(tenant, 1);
    const { job, replayed } = await submitOne(tenant, parsed.data, key);
    c.header('location', `/v1/jobs/${job.id}`);
    return c.json(job, replayed ? 200 : 202);
  });

  app.post('/batch', async (c) => {
    const tenant = c.get('tenant');
    const parsed = batchSchema.safeParse(await readJson(c));
    if (!parsed.success) throw invalid(parsed.error);
    await backlogAllows(tenant, parsed.data.jobs.length);
    let added: Awaited<ReturnType<typeof deps.jobs.submitMany>>;
    try {
      added = await deps.jobs.submitMany(parsed.data.jobs, tenant);
    } catch (error) {
      if (!(error instanceof JobSpecError)) throw error;
      deps.metrics.rejected.inc({ reason: 'invalid' });
      const notFoundFunction = error.field.endsWith('.function');
      throw new ApiError(
        notFoundFunction ? 404 : 400,
        notFoundFunction ? 'Not found' : 'Invalid request',
        `${error.message} No job of the batch was accepted.`,
        {
          errors: [{ path: `jobs.${error.field}`, message: error.message }],
        },
      );
    }
    deps.metrics.submitted.inc(added.length);
    const jobs = added.map((job) => toApiJob(justSubmitted(job)));
    return c.json({ jobs }, 202);
  });

  app.get('/', async (c) => {
    const tenant = c.get('tenant');
    const parsed = listQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalid(parsed.error, 'query');
    const { state, function: fn, limit } = parsed.data;
    let offset = Number(parsed.data.cursor ?? 0);
    const page: ApiJob[] = [];
    const batch = 100;
    for (let scanned = 0; page.length < limit && scanned < 20 * batch; scanned += batch) {
      const ids = await deps.redis.zrevrange(deps.keys.tenantJobs(tenant), offset, offset + batch - 1);
      if (ids.length === 0) {
        offset = -1;
        break;
      }
      for (const id of ids) {
        offset++;
        const view = await deps.jobs.get(id);
        if (!view) {
          await deps.redis.zrem(deps.keys.tenantJobs(tenant), id);
          offset--;
          continue;
        }
        const job = toApiJob(view);
        if ((state && job.state !== state) || (fn && job.function !== fn)) continue;
        page.push(job);
        if (page.length === limit) break;
      }
    }
    const more = offset >= 0 && (await deps.redis.zcard(deps.keys.tenantJobs(tenant))) > offset;
    return c.json({ jobs: page, nextCursor: more ? String(offset) : null });
  });

  app.get('/:id', async (c) => c.json(toApiJob(await visible(c.get('tenant'), c.req.param('id')))));

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    await visible(c.get('tenant'), id);
    const outcome = await deps.jobs.cancel(id, 'api.0');
    const after = await deps.jobs.get(id);
    return c.json({ id, outcome, job: after ? toApiJob(after) : null }, outcome === 'finished' ? 409 : 202);
  });

  app.post('/:id/retry', async (c) => {
    const id = c.req.param('id');
    await visible(c.get('tenant'), id);
    if (!(await deps.jobs.requeue(id))) {
      throw new ApiError(409, 'Conflict', `Job ${id} is not failed: only failed or cancelled jobs can be retried.`);
    }
    return c.json(toApiJob((await deps.jobs.get(id)) as JobView), 202);
  });

  app.get('/:id/wait', async (c) => {
    const id = c.req.param('id');
    const parsed = waitQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalid(parsed.error, 'query');
    const tenant = c.get('tenant');
    const deadline = Date.now() + parsed.data.timeoutMs;
    for (;;) {
      // Listen before reading, so an end between the read and the wait is not missed.
      // Re-check at least every second: an event can be missed while the event reader connects.
      const next = deps.events.next(id, Math.min(1000, deadline - Date.now()));
      const job = toApiJob(await visible(tenant, id));
      if (ENDED.has(job.state) || Date.now() >= deadline) {
        next.cancel();
        return c.json(job, ENDED.has(job.state) ? 200 : 408);
      }
      await next.happened;
    }
  });

  app.get('/:id/events', async (c) => {
    const id = c.req.param('id');
    const tenant = c.get('tenant');
    let job = toApiJob(await visible(tenant, id));
    // HEAD gets the headers only: a stream nobody reads would never be cancelled.
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'content-type': 'text/event-stream' });
    const until = Date.now() + MAX_STREAM_MS;
    return streamSSE(c, async (stream) => {
      let logsSent = 0;
      let lastProgress = JSON.stringify(job.progress);
      await stream.writeSSE({ event: 'state', data: JSON.stringify(job) });
      let event = deps.events.next(id, 500);
      while (!ENDED.has(job.state) && !stream.aborted) {
        if (Date.now() > until) {
          await stream.writeSSE({ event: 'timeout', data: JSON.stringify({ reconnect: true, job }) });
          event.cancel();
          return;
        }
        await event.happened;
        await stream.write(': ping\n\n');
        event = deps.events.next(id, 500);
        const view = await deps.jobs.get(id);
        if (!view) break;
        const next = toApiJob(view);
        const { logs } = await deps.queue.getJobLogs(id, logsSent, -1, true);
        for (const line of logs) await stream.writeSSE({ event: 'log', data: JSON.stringify({ line }) });
        logsSent += logs.length;
        if (JSON.stringify(next.progress) !== lastProgress) {
          lastProgress = JSON.stringify(next.progress);
          await stream.writeSSE({ event: 'progress', data: JSON.stringify({ progress: next.progress }) });
        }
        if (next.state !== job.state) await stream.writeSSE({ event: 'state', data: JSON.stringify(next) });
        job = next;
      }
      event.cancel();
      await stream.writeSSE({ event: 'end', data: JSON.stringify(job) });
    });
  });

  return app;
}

/** The view of a job just added, without reading it back (it cannot have run yet). */
function justSubmitted(job: Awaited<ReturnType<ApiDeps['jobs']['submit']>>): JobView {
  return {
    id: job.id as string,
    state: job.opts.delay ? 'delayed' : 'waiting',
    function: job.data.function,
    version: job.data.version,
    tenant: job.data.tenant,
    priority: job.data.priority,
    input: job.data.input,
    attemptsMade: 0,
    attempts: job.opts.attempts ?? 1,
    progress: 0,
    result: undefined,
    running: undefined,
    exit: undefined,
    submittedAt: job.timestamp,
    requestHash: job.data.requestHash,
    startedAt: undefined,
    finishedAt: undefined,
  };
}

/** The original job for a replayed Idempotency-Key, or 409 when the body differs. */
function checkReplay(view: JobView, requestHash: string, deps: ApiDeps): ApiJob {
  const stored = view.requestHash;
  if (stored !== undefined && stored !== requestHash) {
    deps.metrics.rejected.inc({ reason: 'conflict' });
    throw new ApiError(409, 'Conflict', 'This Idempotency-Key was used with a different request body.', {
      job: view.id,
    });
  }
  return toApiJob(view);
}

export type { JobData };
