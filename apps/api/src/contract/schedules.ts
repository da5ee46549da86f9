import { JOB_STATES, scheduleIdSchema, scheduleSpecSchema } from '@beamline/jobs';
import { createRoute, z } from '@hono/zod-openapi';
import { documentable, json, TAGS, v1Problems } from './common.js';

/** What a client sends to create or replace a schedule. */
export const scheduleDefinitionSchema = documentable(scheduleSpecSchema)
  .extend({
    id: documentable(scheduleIdSchema).openapi({
      description: 'Names the schedule among yours; posting the same id again replaces it.',
      example: 'nightly-report',
    }),
    cron: z.string().min(1).max(200).optional().openapi({
      description:
        'When to run: a cron expression, 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first. Exactly one of cron and everyMs.',
      example: '0 3 * * *',
    }),
    everyMs: z.number().int().positive().optional().openapi({
      description:
        'When to run: every so many milliseconds, the first run at once (at least SCHEDULE_MIN_INTERVAL_MS, 1000 by default). Exactly one of cron and everyMs.',
      example: 60_000,
    }),
    timezone: z.string().min(1).max(100).optional().openapi({
      description: 'The IANA time zone a cron expression is read in (default UTC).',
      example: 'Europe/Paris',
    }),
    paused: z.boolean().optional().openapi({
      description: 'Create (or replace) it paused: it produces no run until resumed. Default false.',
    }),
  })
  .openapi('ScheduleDefinition', {
    description:
      'A schedule: the job it runs (function, input and the options POST /v1/jobs takes) and when. Its runs are ordinary jobs of yours, counted in your backlog.',
  });

const scheduledRunSchema = z
  .object({
    jobId: z.string().openapi({ description: 'The job of this run (GET /v1/jobs/{id}).' }),
    dueAt: z.iso.datetime(),
    producedAt: z.iso.datetime().openapi({ description: 'When the job was created (one run ahead of its time).' }),
    skipped: z.boolean().openapi({
      description: 'Your backlog was at its cap when the run was produced: it ends as `cancelled` instead of running.',
    }),
    state: z
      .enum(JOB_STATES)
      .nullable()
      .openapi({ description: 'The state of its job; null once the job is no longer kept.' }),
  })
  .openapi('ScheduledRun');

export const scheduleSchema = scheduleDefinitionSchema
  .omit({ paused: true })
  .extend({
    paused: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    nextRunAt: z.iso.datetime().nullable().openapi({ description: 'When the next run is due; null while paused.' }),
  })
  .openapi('Schedule');

export const scheduleDetailSchema = scheduleSchema
  .extend({
    nextRuns: z.array(z.iso.datetime()).openapi({ description: 'The next 5 due times; empty while paused.' }),
    lastRuns: z.array(scheduledRunSchema).openapi({ description: 'Its most recent runs (up to 20), newest first.' }),
  })
  .openapi('ScheduleDetail');

const scheduleListSchema = z.object({ schedules: z.array(scheduleSchema) }).openapi('ScheduleList');

export const scheduleIdParams = z.object({
  id: documentable(scheduleIdSchema).openapi({
    param: { description: 'The schedule id.' },
    example: 'nightly-report',
  }),
});

const noSuchSchedule = 'No such schedule of yours.';

export const upsertScheduleRoute = createRoute({
  method: 'post',
  path: '/',
  operationId: 'upsertSchedule',
  tags: [TAGS.schedules.name],
  summary: 'Create or replace a schedule',
  description:
    'Creates the schedule, or replaces yours of the same id whole (definition, next run, and paused state). The function is resolved now and its version pinned, as a submission pins it.',
  request: { body: { required: true, content: { 'application/json': { schema: scheduleDefinitionSchema } } } },
  responses: {
    201: {
      ...json(scheduleDetailSchema, 'Created.'),
      headers: { Location: { description: 'The schedule.', schema: { type: 'string' } } },
    },
    200: json(scheduleDetailSchema, 'Replaced.'),
    ...v1Problems([400, 404, 409, 413, 415], {
      404: 'The function does not exist.',
      409: 'You have as many schedules as you may (SCHEDULES_PER_TENANT): delete one first.',
    }),
  },
});

export const listSchedulesRoute = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listSchedules',
  tags: [TAGS.schedules.name],
  summary: 'List your schedules',
  description: 'Every schedule of yours, oldest first.',
  responses: { 200: json(scheduleListSchema, 'Your schedules.'), ...v1Problems([]) },
});

export const getScheduleRoute = createRoute({
  method: 'get',
  path: '/{id}',
  operationId: 'getSchedule',
  tags: [TAGS.schedules.name],
  summary: 'Get a schedule',
  description: 'Its definition, its next due times and its most recent runs with their jobs\u2019 states.',
  request: { params: scheduleIdParams },
  responses: { 200: json(scheduleDetailSchema, 'The schedule.'), ...v1Problems([404], { 404: noSuchSchedule }) },
});

export const pauseScheduleRoute = createRoute({
  method: 'post',
  path: '/{id}/pause',
  operationId: 'pauseSchedule',
  tags: [TAGS.schedules.name],
  summary: 'Pause a schedule',
  description:
    'It produces no more runs. Its next run, if not started, is removed; a run already running goes on to its end.',
  request: { params: scheduleIdParams },
  responses: { 200: json(scheduleDetailSchema, 'Paused.'), ...v1Problems([404], { 404: noSuchSchedule }) },
});

export const resumeScheduleRoute = createRoute({
  method: 'post',
  path: '/{id}/resume',
  operationId: 'resumeSchedule',
  tags: [TAGS.schedules.name],
  summary: 'Resume a schedule',
  description:
    'It runs again from now: an everyMs schedule at once, a cron schedule at its next time. Missed runs are not caught up. Resuming an active schedule changes nothing.',
  request: { params: scheduleIdParams },
  responses: {
    200: json(scheduleDetailSchema, 'Resumed.'),
    ...v1Problems([404], { 404: 'No such schedule of yours, or its function is no longer deployed.' }),
  },
});

export const deleteScheduleRoute = createRoute({
  method: 'delete',
  path: '/{id}',
  operationId: 'deleteSchedule',
  tags: [TAGS.schedules.name],
  summary: 'Delete a schedule',
  description: 'Its next run, if not started, is removed with it; runs already started stay jobs of yours.',
  request: { params: scheduleIdParams },
  responses: { 204: { description: 'Deleted.' }, ...v1Problems([404], { 404: noSuchSchedule }) },
});
