import { BacklogFullError, JobSpecError, type JobView } from '@beamline/jobs';
import { OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { AuthVariables } from '../auth.js';
import {
  batchSchema,
  cancelJobRoute,
  getJobRoute,
  idempotencyKeySchema,
  jobChildrenRoute,
  jobEventsRoute,
  jobLogsRoute,
  listJobsRoute,
  retryJobRoute,
  submitBatchRoute,
  submitJobRoute,
  submitJobSchema,
  waitJobRoute,
} from '../contract/jobs.js';
import type { ApiDeps } from '../deps.js';
import { ENDING_EVENTS } from '../job-events.js';
import { ApiError, backlogFull, invalid, notFound } from '../problem.js';
import { type ApiJob, ENDED, toApiJob } from '../views.js';
import { readJson } from './body.js';
import { preferredWaitMs } from './prefer-wait.js';
import { pidOfJob } from './processes.js';
import { readByHandler } from './read-by-handler.js';
import { rejectInvalid } from './validation.js';

/** An SSE stream ends after this long; clients reconnect (EventSource does so by itself). */
const MAX_STREAM_MS = 10 * 60_000;

type Env = { Variables: AuthVariables };

export function jobRoutes(deps: ApiDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({ defaultHook: rejectInvalid((c) => notFound(`Job ${c.req.param('id')}`)) });

  /** The job, if it belongs to the caller's tenant (another tenant's job does not exist for them). */
  const visible = async (tenant: string, id: string): Promise<JobView> => {
    const view = await deps.jobs.getOf(tenant, id);
    if (!view) throw notFound(`Job ${id}`);
    return view;
  };

  /** The job as the API shows it, with its pid while it runs. */
  const shown = async (view: JobView): Promise<ApiJob> =>
    toApiJob(view, view.state === 'running' ? await pidOfJob(deps, view.node, view.id) : undefined);

  /**
   * Waits until job `id` ends or `deadline` passes; returns the job as it then stands. Listens
   * before each read, so an end between the read and the wait is not missed, and re-checks at
   * least every second: an event can be missed while the event reader connects. Only an event
   * that may end the job wakes it (not each start or progress), and the running job's pid is
   * looked up only for the answer.
   */
  const untilEnded = async (tenant: string, id: string, deadline: number): Promise<ApiJob> => {
    for (;;) {
      const next = deps.events.next(id, Math.min(1000, deadline - Date.now()), ENDING_EVENTS);
      const view = await visible(tenant, id);
      if (ENDED.has(view.state) || Date.now() >= deadline) {
        next.cancel();
        return shown(view);
      }
      await next.happened;
    }
  };

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

  app.openapi(readByHandler(app, submitJobRoute), async (c) => {
    const tenant = c.get('tenant');
    const parsed = submitJobSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !idempotencyKeySchema.safeParse(key).success) {
      throw new ApiError(400, 'Invalid request', 'The Idempotency-Key header must be 1–256 characters.');
    }
    const waitMs = preferredWaitMs(c.req.header('prefer'));
    const submitted = await deps.jobs.submitValid(parsed.data, tenant, key).catch((error) => refusal(error, false));
    if (!submitted.sameRequest) {
      deps.metrics.rejected.inc({ reason: 'conflict' });
      throw new ApiError(409, 'Conflict', 'This Idempotency-Key was used with a different request body.', {
        job: submitted.job.id,
      });
    }
    c.header('location', `/v1/jobs/${submitted.job.id}`);
    if (!submitted.replayed) deps.metrics.submitted.inc();
    if (waitMs !== undefined) {
      c.header('preference-applied', `wait=${waitMs / 1000}`);
      const job = await untilEnded(tenant, submitted.job.id, Date.now() + waitMs);
      // Replayed or not: 200 once it ended, 202 while it has not (the client waits on).
      return c.json(job, ENDED.has(job.state) ? 200 : 202);
    }
    if (submitted.replayed) return c.json(await shown(submitted.job), 200);
    return c.json(toApiJob(submitted.job), 202);
  });

  app.openapi(readByHandler(app, submitBatchRoute), async (c) => {
    const tenant = c.get('tenant');
    const parsed = batchSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const added = await deps.jobs.submitManyValid(parsed.data.jobs, tenant).catch((error) => refusal(error, true));
    deps.metrics.submitted.inc(added.length);
    return c.json({ jobs: added.map((view) => toApiJob(view)) }, 202);
  });

  app.openapi(listJobsRoute, async (c) => {
    const { state, function: fn, limit, cursor } = c.req.valid('query');
    const page = await deps.jobs.list(c.get('tenant'), {
      state,
      function: fn,
      limit,
      cursor: cursor === undefined ? undefined : Number(cursor),
    });
    const jobs = await Promise.all(page.jobs.map(shown));
    return c.json({ jobs, nextCursor: page.nextCursor === undefined ? null : String(page.nextCursor) }, 200);
  });

  app.openapi(getJobRoute, async (c) =>
    c.json(await shown(await visible(c.get('tenant'), c.req.valid('param').id)), 200),
  );

  app.openapi(cancelJobRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    const outcome = await deps.jobs.cancel(id, tenant);
    if (outcome === 'not_found') throw notFound(`Job ${id}`);
    const after = await deps.jobs.getOf(tenant, id);
    const cancellation = { id, outcome, job: after ? await shown(after) : null };
    return outcome === 'finished' ? c.json(cancellation, 409) : c.json(cancellation, 202);
  });

  app.openapi(retryJobRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    const before = await visible(tenant, id);
    const retried = await deps.jobs.retry(id, tenant).catch((error) => refusal(error, false));
    if (!retried) {
      throw new ApiError(409, 'Conflict', `Job ${id} is not failed: only failed or cancelled jobs can be retried.`);
    }
    // A cancel racing the retry may have removed it already: show what is known.
    return c.json(await shown((await deps.jobs.getOf(tenant, id)) ?? before), 202);
  });

  app.openapi(waitJobRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    const job = await untilEnded(tenant, id, Date.now() + c.req.valid('query').timeoutMs);
    return c.json(job, ENDED.has(job.state) ? 200 : 408);
  });

  app.openapi(jobChildrenRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { offset, limit } = c.req.valid('query');
    const tenant = c.get('tenant');
    const page = await deps.jobs.children(tenant, id, offset, limit);
    if (!page) throw notFound(`Job ${id}`);
    const views = await Promise.all(page.ids.map((child) => deps.jobs.getOf(tenant, child)));
    const jobs = await Promise.all(views.filter((view): view is JobView => view !== undefined).map(shown));
    return c.json({ jobs, total: page.total, offset }, 200);
  });

  app.openapi(jobLogsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { offset, limit } = c.req.valid('query');
    const page = await deps.jobs.logPage(c.get('tenant'), id, offset, limit);
    if (!page) throw notFound(`Job ${id}`);
    return c.json({ logs: page.logs, total: page.total, offset }, 200);
  });

  app.openapi(jobEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
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
