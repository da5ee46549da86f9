import { BacklogFullError, JOB_STATES, JobSpecError, type JobView, jobSpecSchema } from '@beamline/jobs';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { AuthVariables } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, backlogFull, invalid, notFound } from '../problem.js';
import { type ApiJob, ENDED, toApiJob } from '../views.js';
import { readJson } from './body.js';
import { pidOfJob } from './processes.js';

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
  state: z.enum(JOB_STATES).optional(),
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
    const view = await deps.jobs.getOf(tenant, id);
    if (!view) throw notFound(`Job ${id}`);
    return view;
  };

  /** The job as the API shows it, with its pid while it runs. */
  const shown = async (view: JobView): Promise<ApiJob> =>
    toApiJob(view, view.state === 'running' ? await pidOfJob(deps, view.node, view.id) : undefined);

  /** A refusal of the store as the client sees it: what was wrong, where, and what to do. */
  const refusal = (error: unknown, batch: boolean): never => {
    if (error instanceof BacklogFullError) {
      deps.metrics.rejected.inc({ reason: 'backlog' });
      throw backlogFull(error);
    }
    if (error instanceof JobSpecError) {
      deps.metrics.rejected.inc({ reason: 'invalid' });
      const missingFunction = error.field === 'function' || error.field.endsWith('.function');
      throw new ApiError(
        missingFunction ? 404 : 400,
        missingFunction ? 'Not found' : 'Invalid request',
        batch ? `${error.message} No job of the batch was accepted.` : error.message,
        { errors: [{ path: batch ? `jobs.${error.field}` : error.field, message: error.message }] },
      );
    }
    throw error;
  };

  app.post('/', async (c) => {
    const tenant = c.get('tenant');
    const parsed = submitJobSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const key = c.req.header('idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 256)) {
      throw new ApiError(400, 'Invalid request', 'The Idempotency-Key header must be 1–256 characters.');
    }
    const submitted = await deps.jobs.submitValid(parsed.data, tenant, key).catch((error) => refusal(error, false));
    if (!submitted.sameRequest) {
      deps.metrics.rejected.inc({ reason: 'conflict' });
      throw new ApiError(409, 'Conflict', 'This Idempotency-Key was used with a different request body.', {
        job: submitted.job.id,
      });
    }
    if (!submitted.replayed) deps.metrics.submitted.inc();
    c.header('location', `/v1/jobs/${submitted.job.id}`);
    return c.json(
      submitted.replayed ? await shown(submitted.job) : toApiJob(submitted.job),
      submitted.replayed ? 200 : 202,
    );
  });

  app.post('/batch', async (c) => {
    const tenant = c.get('tenant');
    const parsed = batchSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const added = await deps.jobs.submitManyValid(parsed.data.jobs, tenant).catch((error) => refusal(error, true));
    deps.metrics.submitted.inc(added.length);
    return c.json({ jobs: added.map((view) => toApiJob(view)) }, 202);
  });

  app.get('/', async (c) => {
    const tenant = c.get('tenant');
    const parsed = listQuery.safeParse(c.req.query());
    if (!parsed.success) throw invalid(parsed.error, 'query');
    const { state, function: fn, limit, cursor } = parsed.data;
    const page = await deps.jobs.list(tenant, {
      state,
      function: fn,
      limit,
      cursor: cursor === undefined ? undefined : Number(cursor),
    });
    const jobs = await Promise.all(page.jobs.map(shown));
    return c.json({ jobs, nextCursor: page.nextCursor === undefined ? null : String(page.nextCursor) });
  });

  app.get('/:id', async (c) => c.json(await shown(await visible(c.get('tenant'), c.req.param('id')))));

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const tenant = c.get('tenant');
    if (!JOB_ID.test(id)) throw notFound(`Job ${id}`);
    const outcome = await deps.jobs.cancel(id, tenant);
    if (outcome === 'not_found') throw notFound(`Job ${id}`);
    const after = await deps.jobs.getOf(tenant, id);
    return c.json({ id, outcome, job: after ? await shown(after) : null }, outcome === 'finished' ? 409 : 202);
  });

  app.post('/:id/retry', async (c) => {
    const id = c.req.param('id');
    const tenant = c.get('tenant');
    const before = await visible(tenant, id);
    const retried = await deps.jobs.retry(id, tenant).catch((error) => refusal(error, false));
    if (!retried) {
      throw new ApiError(409, 'Conflict', `Job ${id} is not failed: only failed or cancelled jobs can be retried.`);
    }
    // A cancel racing the retry may have removed it already: show what is known.
    return c.json(await shown((await deps.jobs.getOf(tenant, id)) ?? before), 202);
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
      const job = await shown(await visible(tenant, id));
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
    let job = await shown(await visible(tenant, id));
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
        const next = await shown(view);
        const { logs } = await deps.jobs.logs(id, logsSent);
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
