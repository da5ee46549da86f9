import { functionNameSchema, JOB_ID } from '@beamline/jobs';
import { z } from '@hono/zod-openapi';

/**
 * A schema of another package, copied so that it can carry this document's metadata: zod gives
 * `.openapi()` only to schemas created after @hono/zod-openapi extended it, and @beamline/jobs may
 * be loaded first. The copy validates exactly as the original.
 */
export const documentable = <T extends z.ZodType>(schema: T): T => schema.clone();

/** The operations' groups, in the order the document lists them. */
export const TAGS = {
  functions: {
    name: 'Functions',
    description: 'Deploy, list and delete the functions jobs run (yours and the built-ins).',
  },
  jobs: {
    name: 'Jobs',
    description: 'Submit jobs and follow them: state, result or exit, logs, long polls and server-sent events.',
  },
  schedules: {
    name: 'Schedules',
    description: 'Run a job on a cron expression or every so many milliseconds; pause, resume and delete schedules.',
  },
  processes: {
    name: 'Processes',
    description: 'Reach the live processes of running jobs: their mailboxes, or kill them.',
  },
  cluster: { name: 'Cluster', description: 'Worker nodes and queue depth (admin), and dead letters.' },
} as const;

export { JOB_ID };

/** A pid as the runtime makes them (libs/runtime pid.ts): "<node-id>.<serial>". */
const PID = /^[A-Za-z0-9_-]{1,100}\.\d+$/;

export const jobIdParams = z.object({
  id: z
    .string()
    .regex(JOB_ID)
    .openapi({ param: { description: 'The job id, as the submission returned it.' }, example: '42' }),
});

export const pidParams = z.object({
  pid: z
    .string()
    .regex(PID)
    .openapi({
      param: { description: 'The pid of a running job\'s process: "<node-id>.<serial>".' },
      example: 'node-1.17',
    }),
});

export const functionNameParams = z.object({
  name: documentable(functionNameSchema).openapi({
    param: { description: 'The function name.' },
    example: 'resize-image',
  }),
});

/**
 * A number read from a query string, as z.coerce reads it, but from strings only: z.coerce would
 * take a null too, and the document would then say the parameter may be null.
 */
export const queryInteger = <T extends z.ZodType<number>>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' ? Number(value) : value), schema);

/** An RFC 9457 problem, as every error is answered (application/problem+json). */
export const problemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://beamline.dev/problems/invalid-request' }),
    title: z.string().openapi({ example: 'Invalid request' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: 'priority: Invalid option: expected one of "max"|"high"|"normal"|"low"' }),
    instance: z.string().openapi({ description: 'The request path.', example: '/v1/jobs' }),
    errors: z
      .array(
        z.object({
          path: z.string().openapi({ description: 'The failing field, dotted (`jobs.3.priority`).' }),
          message: z.string(),
        }),
      )
      .optional()
      .openapi({ description: 'Each failing field of an invalid request.' }),
  })
  .openapi('Problem', {
    description: 'A problem (RFC 9457). Some carry more members: `job`, `backlog` and `cap`, `reason`.',
  });

const retryAfter = (seconds: number) => ({
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    schema: { type: 'integer' as const, example: seconds },
  },
});

/** What each error status means wherever it occurs; a route may say more for its own. */
const PROBLEMS = {
  400: { description: 'Invalid request: `errors` names each failing field.' },
  401: {
    description: 'No API key, or an unknown one.',
    headers: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' as const } } },
  },
  403: { description: 'This endpoint needs the admin API key.' },
  404: { description: "Not found (another tenant's resources are not found either)." },
  409: { description: 'Conflict with the current state.' },
  413: { description: 'The body is larger than allowed.' },
  415: { description: 'The body is not of a media type this operation accepts.' },
  429: {
    description: "The tenant's backlog of jobs not yet ended is at its cap (TENANT_BACKLOG_CAP).",
    headers: retryAfter(10),
  },
  500: { description: 'The request failed unexpectedly; it has been logged.' },
  503: { description: 'Redis is unreachable: nothing was changed.', headers: retryAfter(5) },
} as const;

type ProblemStatus = keyof typeof PROBLEMS;

type ProblemResponse = {
  description: string;
  content: { 'application/problem+json': { schema: typeof problemSchema } };
};

/**
 * The problem responses of a /v1 operation: `statuses`, and those any /v1 request may get (401,
 * 500, 503), each with its usual meaning or, in `said`, the operation's own words.
 */
export function v1Problems<S extends ProblemStatus>(
  statuses: readonly S[],
  said: Partial<Record<S, string>> = {},
): Record<S | 401 | 500 | 503, ProblemResponse> {
  const responses: Partial<Record<ProblemStatus, ProblemResponse>> = {};
  for (const status of [...statuses, 401, 500, 503] as const) {
    responses[status] = {
      ...PROBLEMS[status],
      description: said[status as S] ?? PROBLEMS[status].description,
      content: { 'application/problem+json': { schema: problemSchema } },
    };
  }
  return responses as Record<S | 401 | 500 | 503, ProblemResponse>;
}

/** A JSON response of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
