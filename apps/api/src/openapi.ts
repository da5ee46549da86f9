import { EXIT_REASONS, FAULTS, functionDefaultsSchema, JOB_STATES, MAX_BUNDLE_BYTES } from '@beamline/jobs';
import { z } from 'zod';
import { deployJsonSchema } from './routes/functions.js';
import { batchSchema, MAX_BATCH, submitJobSchema } from './routes/jobs.js';
import { messageSchema } from './routes/processes.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

const job = {
  type: 'object',
  required: ['id', 'state', 'function', 'version', 'attempts', 'submittedAt'],
  properties: {
    id: { type: 'string' },
    state: { enum: [...JOB_STATES] },
    function: { type: 'string' },
    version: { type: 'integer' },
    priority: { enum: ['max', 'high', 'normal', 'low'] },
    input: {},
    attempts: { type: 'object', properties: { made: { type: 'integer' }, max: { type: 'integer' } } },
    progress: {},
    pid: { type: 'string', description: 'while running' },
    node: { type: 'string', description: 'while running' },
    result: { description: 'when completed' },
    exit: {
      type: 'object',
      description: 'when failed or cancelled',
      properties: {
        reason: { enum: [...EXIT_REASONS] },
        message: { type: 'string' },
        stack: { type: 'string' },
        fault: { enum: [...FAULTS] },
      },
    },
    submittedAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
  },
};
const problem = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};
const fn = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'integer' },
    sha256: { type: 'string' },
    defaults: schema(functionDefaultsSchema),
    createdAt: { type: 'string', format: 'date-time' },
    builtin: { type: 'boolean' },
  },
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (s: unknown) => ({ 'application/json': { schema: s } });
const problems = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [
      String(code),
      { description: 'problem', content: { 'application/problem+json': { schema: ref('Problem') } } },
    ]),
  );
const ok = (code: number, description: string, s?: unknown) => ({
  [String(code)]: { description, ...(s ? { content: json(s) } : {}) },
});
const path = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const query = (name: string, s: unknown, description: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: s,
});

/** The OpenAPI 3.1 document, built from the zod schemas that validate the requests. */
export function openApiDocument(): object {
  const common = problems(400, 401, 404, 429, 503);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Beamline API',
      version: '1.0.0',
      description:
        'Jobs run as isolated, supervised processes on Beamline worker nodes. Authenticate with "Authorization: Bearer <key>"; every key belongs to a tenant. Errors are application/problem+json with the failing field paths.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Job: job,
        Problem: problem,
        Function: fn,
        JobSubmission: schema(submitJobSchema),
        JobBatch: schema(batchSchema),
        FunctionDeployment: schema(deployJsonSchema),
        Message: schema(messageSchema),
      },
    },
    paths: {
      '/v1/functions': {
        get: {
          summary: 'List functions (yours and the built-in ones)',
          responses: { ...ok(200, 'functions'), ...common },
        },
      },
      '/v1/functions/{name}': {
        parameters: [path('name', 'function name')],
        put: {
          summary: 'Deploy a new version',
          description: `Body: the JavaScript source (application/javascript), or JSON { code, defaults }. At most ${MAX_BUNDLE_BYTES} bytes. An identical deployment returns the existing version with 200.`,
          requestBody: {
            required: true,
            content: { 'application/javascript': { schema: { type: 'string' } }, ...json(ref('FunctionDeployment')) },
          },
          responses: {
            ...ok(201, 'deployed', ref('Function')),
            ...ok(200, 'identical to the latest version', ref('Function')),
            ...problems(413, 415),
            ...common,
          },
        },
        get: { summary: 'A function and its versions', responses: { ...ok(200, 'function'), ...common } },
        delete: { summary: 'Delete a function and its versions', responses: { ...ok(204, 'deleted'), ...common } },
      },
      '/v1/jobs': {
        post: {
          summary: 'Submit a job',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: 256 },
              description: 'same key and body: the original job (200); different body: 409',
            },
          ],
          requestBody: { required: true, content: json(ref('JobSubmission')) },
          responses: {
            ...ok(202, 'accepted', ref('Job')),
            ...ok(200, 'replayed idempotency key', ref('Job')),
            ...problems(409, 413, 415),
            ...common,
          },
        },
        get: {
          summary: 'List jobs, newest first',
          parameters: [
            query('state', { enum: [...JOB_STATES] }, 'filter'),
            query('function', { type: 'string' }, 'filter'),
            query('cursor', { type: 'string' }, 'nextCursor of the previous page'),
            query('limit', { type: 'integer', minimum: 1, maximum: 100, default: 20 }, 'page size'),
          ],
          responses: { ...ok(200, '{ jobs, nextCursor }'), ...common },
        },
      },
      '/v1/jobs/batch': {
        post: {
          summary: `Submit up to ${MAX_BATCH} jobs`,
          requestBody: { required: true, content: json(ref('JobBatch')) },
          responses: { ...ok(202, '{ jobs }'), ...problems(413, 415), ...common },
        },
      },
      '/v1/jobs/{id}': {
        parameters: [path('id', 'job id')],
        get: { summary: 'A job', responses: { ...ok(200, 'job', ref('Job')), ...common } },
        delete: {
          summary: 'Cancel: remove a waiting or delayed job, kill a running one (reason cancelled)',
          responses: { ...ok(202, '{ id, outcome, job }'), ...problems(409), ...common },
        },
      },
      '/v1/jobs/{id}/retry': {
        parameters: [path('id', 'job id')],
        post: {
          summary: 'Retry a failed or cancelled job',
          responses: { ...ok(202, 'job', ref('Job')), ...problems(409), ...common },
        },
      },
      '/v1/jobs/{id}/wait': {
        parameters: [
          path('id', 'job id'),
          query('timeoutMs', { type: 'integer', minimum: 0, maximum: 60000, default: 30000 }, 'how long to wait'),
        ],
        get: {
          summary: 'Wait for the job to end (long poll)',
          responses: {
            ...ok(200, 'ended', ref('Job')),
            ...ok(408, 'still running at the timeout', ref('Job')),
            ...common,
          },
        },
      },
      '/v1/jobs/{id}/events': {
        parameters: [path('id', 'job id')],
        get: {
          summary: 'Server-sent events: state, progress, log, end',
          responses: {
            '200': {
              description: 'text/event-stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...common,
          },
        },
      },
      '/v1/processes': {
        get: {
          summary: 'Live job processes across the cluster',
          responses: { ...ok(200, '{ processes }'), ...common },
        },
      },
      '/v1/processes/{pid}': {
        parameters: [path('pid', 'pid')],
        delete: { summary: 'Kill a job process (reason killed)', responses: { ...ok(202, 'sent'), ...common } },
      },
      '/v1/processes/{pid}/messages': {
        parameters: [path('pid', 'pid')],
        post: {
          summary: "Send a message to a job process's mailbox",
          requestBody: { required: true, content: json(ref('Message')) },
          responses: { ...ok(202, 'sent'), ...common },
        },
      },
      '/v1/nodes': {
        get: {
          summary: 'Live worker nodes and their scheduler stats (admin)',
          responses: { ...ok(200, '{ nodes }'), ...problems(403), ...common },
        },
      },
      '/v1/queues': {
        get: {
          summary: 'Queue depth by state (admin)',
          responses: { ...ok(200, '{ queues }'), ...problems(403), ...common },
        },
      },
      '/v1/dead-letters': { get: { summary: 'Failed jobs', responses: { ...ok(200, '{ deadLetters }'), ...common } } },
      '/v1/dead-letters/{id}/requeue': {
        parameters: [path('id', 'job id')],
        post: {
          summary: 'Requeue a dead letter',
          responses: { ...ok(202, 'job', ref('Job')), ...problems(409), ...common },
        },
      },
    },
  };
}

/** A browsable page for the document, with no external assets. */
export function docsPage(document: object): string {
  const doc = document as { paths: Record<string, Record<string, { summary?: string; description?: string }>> };
  const rows = Object.entries(doc.paths)
    .flatMap(([route, ops]) =>
      Object.entries(ops)
        .filter(([method]) => method !== 'parameters')
        .map(
          ([method, op]) =>
            `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${route}</code></td><td>${escapeHtml(op.summary ?? '')}${op.description ? `<br><small>${escapeHtml(op.description)}</small>` : ''}</td></tr>`,
        ),
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Beamline API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}td{padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}code{font-size:.9em}</style>
</head><body><h1>Beamline API</h1><p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. The full OpenAPI 3.1 document, with every request schema: <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows}</table></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
