import { functionDefaultsSchema, functionNameSchema, MAX_BUNDLE_BYTES } from '@beamline/jobs';
import { createRoute, z } from '@hono/zod-openapi';
import { documentable, functionNameParams, json, TAGS, v1Problems } from './common.js';

const functionDefaults = documentable(functionDefaultsSchema).openapi('FunctionDefaults', {
  description: 'Limits and policies a job of the function gets when it does not set its own.',
});

export const deployJsonSchema = z
  .strictObject({
    code: z
      .string()
      .min(1, 'the JavaScript source of an ES module whose default export is async (input, ctx) => result'),
    defaults: functionDefaults.optional(),
  })
  .openapi('FunctionDeployment');

export const functionVersionSchema = z
  .object({
    name: functionNameSchema,
    version: z.number().int().min(1),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .openapi({ description: 'The SHA-256 of the source.' }),
    defaults: functionDefaults,
    createdAt: z.iso.datetime(),
    builtin: z.boolean().openapi({ description: 'Whether it ships with Beamline (every tenant may run it).' }),
  })
  .openapi('FunctionVersion');

const functionListSchema = z
  .object({ functions: z.array(functionVersionSchema).openapi({ description: 'The latest version of each.' }) })
  .openapi('FunctionList');

const pausedField = z.boolean().openapi({
  description: 'Whether the function is paused (for you): its jobs are accepted and wait, none starts.',
});

const functionSchema = z
  .object({
    name: functionNameSchema,
    latest: functionVersionSchema,
    versions: z.array(functionVersionSchema),
    paused: pausedField,
  })
  .openapi('Function');

export const functionPauseSchema = z.object({ name: functionNameSchema, paused: pausedField }).openapi('FunctionPause');

const moduleSource = z.string().openapi({ description: 'The source of the ES module.' });

export const deployFunctionRoute = createRoute({
  method: 'put',
  path: '/{name}',
  operationId: 'deployFunction',
  tags: [TAGS.functions.name],
  summary: 'Deploy a new version of a function',
  description: `The body is the JavaScript source of an ES module whose default export is \`async (input, ctx) => result\` (application/javascript), or JSON \`{code, defaults}\`; at most ${MAX_BUNDLE_BYTES} bytes of source. Deploying the same source and defaults as the latest version returns that version (200). The names of the built-in functions are reserved.`,
  request: {
    params: functionNameParams,
    body: {
      required: true,
      content: {
        'application/javascript': { schema: moduleSource },
        'text/javascript': { schema: moduleSource },
        'application/json': { schema: deployJsonSchema },
      },
    },
  },
  responses: {
    201: json(functionVersionSchema, 'Deployed: a new version.'),
    200: json(functionVersionSchema, 'Identical to the latest version, which is returned.'),
    ...v1Problems([400, 409, 413, 415, 429], {
      400: 'The request or the function is invalid: a syntax error (with `line`, `column` and a code `frame`), no default export, an import (`specifier`; bundle with `beamline deploy`), or top-level code that throws or runs away (`problem` names which).',
      409: 'The name is reserved: a built-in function has it.',
      429: 'Too many deploys are being checked at once; retry after the given seconds.',
    }),
  },
});

export const listFunctionsRoute = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listFunctions',
  tags: [TAGS.functions.name],
  summary: 'List functions',
  description: 'Yours and the built-in ones, each at its latest version.',
  responses: { 200: json(functionListSchema, 'The functions.'), ...v1Problems([]) },
});

export const getFunctionRoute = createRoute({
  method: 'get',
  path: '/{name}',
  operationId: 'getFunction',
  tags: [TAGS.functions.name],
  summary: 'Get a function and its versions',
  request: { params: functionNameParams },
  responses: {
    200: json(functionSchema, 'The function, its versions newest first.'),
    ...v1Problems([404], { 404: 'No such function of yours, nor a built-in one.' }),
  },
});

export const deleteFunctionRoute = createRoute({
  method: 'delete',
  path: '/{name}',
  operationId: 'deleteFunction',
  tags: [TAGS.functions.name],
  summary: 'Delete a function and its versions',
  description: 'Jobs already submitted keep running the version they were pinned to.',
  request: { params: functionNameParams },
  responses: {
    204: { description: 'Deleted.' },
    ...v1Problems([404], { 404: 'No such function of yours.' }),
  },
});

const pauseProblems = v1Problems([404, 409], {
  404: 'No such function of yours.',
  409: 'A built-in function: only its operators can pause it.',
});

export const pauseFunctionRoute = createRoute({
  method: 'post',
  path: '/{name}/pause',
  operationId: 'pauseFunction',
  tags: [TAGS.functions.name],
  summary: 'Pause a function',
  description:
    'Its jobs are still accepted and wait; none starts until it is resumed (the worker nodes see the pause within about a second). Jobs already running go on to their end. Pausing a paused function changes nothing.',
  request: { params: functionNameParams },
  responses: { 200: json(functionPauseSchema, 'Paused.'), ...pauseProblems },
});

export const resumeFunctionRoute = createRoute({
  method: 'post',
  path: '/{name}/resume',
  operationId: 'resumeFunction',
  tags: [TAGS.functions.name],
  summary: 'Resume a function',
  description:
    'Its waiting jobs start again, within about a second, in their usual order. Resuming a function that is not paused changes nothing.',
  request: { params: functionNameParams },
  responses: { 200: json(functionPauseSchema, 'Resumed.'), ...pauseProblems },
});
