import { JobSpecError, ScheduleCapError, type ScheduleDetail, type ScheduleView } from '@beamline/jobs';
import { OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AuthVariables } from '../auth.js';
import {
  deleteScheduleRoute,
  getScheduleRoute,
  listSchedulesRoute,
  pauseScheduleRoute,
  resumeScheduleRoute,
  scheduleDefinitionSchema,
  type scheduleDetailSchema,
  type scheduleSchema,
  upsertScheduleRoute,
} from '../contract/schedules.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, invalid, notFound } from '../problem.js';
import { readJson } from './body.js';
import { readByHandler } from './read-by-handler.js';
import { rejectInvalid } from './validation.js';

type Env = { Variables: AuthVariables };
type ApiSchedule = z.output<typeof scheduleSchema>;
type ApiScheduleDetail = z.output<typeof scheduleDetailSchema>;

const iso = (ms: number) => new Date(ms).toISOString();

/** A schedule as the API shows it: its definition flat, beside its state. */
function toApiSchedule(view: ScheduleView): ApiSchedule {
  const { paused: _paused, ...definition } = view.spec;
  return {
    ...definition,
    paused: view.paused,
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
    nextRunAt: view.nextRunAt === undefined ? null : iso(view.nextRunAt),
  };
}

export function scheduleRoutes(deps: ApiDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({
    defaultHook: rejectInvalid((c) => notFound(`Schedule ${c.req.param('id')}`)),
  });

  /** The schedule with the states of its recent runs' jobs (null once a job is no longer kept). */
  const detailed = async (tenant: string, view: ScheduleDetail): Promise<ApiScheduleDetail> => {
    const jobs = await Promise.all(view.lastRuns.map((run) => deps.jobs.getOf(tenant, run.jobId)));
    return {
      ...toApiSchedule(view),
      nextRuns: view.nextRuns.map(iso),
      lastRuns: view.lastRuns.map((run, i) => ({
        jobId: run.jobId,
        dueAt: iso(run.dueAt),
        producedAt: iso(run.producedAt),
        skipped: run.skipped,
        state: jobs[i]?.state ?? null,
      })),
    };
  };

  const found = async (tenant: string, id: string, view: ScheduleDetail | undefined) => {
    if (!view) throw notFound(`Schedule ${id}`);
    return detailed(tenant, view);
  };

  /** A refusal of the store as the client sees it: what was wrong, where, and what to do. */
  const refusal = (error: unknown): never => {
    if (error instanceof ScheduleCapError) throw new ApiError(409, 'Too many schedules', error.message);
    if (error instanceof JobSpecError) {
      const missingFunction = error.field === 'function';
      throw new ApiError(
        missingFunction ? 404 : 400,
        missingFunction ? 'Not found' : 'Invalid request',
        error.message,
        { errors: [{ path: error.field, message: error.message }] },
      );
    }
    throw error;
  };

  app.openapi(readByHandler(app, upsertScheduleRoute), async (c) => {
    const tenant = c.get('tenant');
    const parsed = scheduleDefinitionSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const { schedule, created } = await deps.schedules.upsertValid(tenant, parsed.data).catch(refusal);
    const body = await found(tenant, parsed.data.id, schedule);
    c.header('location', `/v1/schedules/${parsed.data.id}`);
    return created ? c.json(body, 201) : c.json(body, 200);
  });

  app.openapi(listSchedulesRoute, async (c) => {
    const schedules = await deps.schedules.list(c.get('tenant'));
    return c.json({ schedules: schedules.map(toApiSchedule) }, 200);
  });

  app.openapi(getScheduleRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    return c.json(await found(tenant, id, await deps.schedules.get(tenant, id)), 200);
  });

  app.openapi(pauseScheduleRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    return c.json(await found(tenant, id, await deps.schedules.pause(tenant, id)), 200);
  });

  app.openapi(resumeScheduleRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tenant = c.get('tenant');
    const resumed = await deps.schedules.resume(tenant, id).catch(refusal);
    return c.json(await found(tenant, id, resumed), 200);
  });

  app.openapi(deleteScheduleRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deps.schedules.remove(c.get('tenant'), id))) throw notFound(`Schedule ${id}`);
    return c.body(null, 204);
  });

  return app;
}
