import {
  BUILTIN_TENANT,
  type DeployedFunction,
  MAX_BUNDLE_BYTES,
  RegistryError,
  ReservedNameError,
} from '@beamline/jobs';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AuthVariables } from '../auth.js';
import {
  deleteFunctionRoute,
  deployFunctionRoute,
  deployJsonSchema,
  getFunctionRoute,
  listFunctionsRoute,
  pauseFunctionRoute,
  resumeFunctionRoute,
} from '../contract/functions.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, invalid, notFound } from '../problem.js';
import { readJson, readText } from './body.js';
import { readByHandler } from './read-by-handler.js';
import { rejectInvalid } from './validation.js';

/** A bundle and its JSON wrapping. */
const MAX_DEPLOY_BYTES = MAX_BUNDLE_BYTES + 64 * 1024;

type Env = { Variables: AuthVariables };

const view = (f: DeployedFunction) => ({
  name: f.name,
  version: f.version,
  sha256: f.sha256,
  defaults: f.defaults,
  createdAt: new Date(f.createdAt).toISOString(),
  builtin: f.tenant === BUILTIN_TENANT,
});

/** The heap a function asks for by default, if its defaults say (the registry validates them after the check). */
function memoryOf(defaults: unknown): number | undefined {
  const memoryMb = (defaults as { memoryMb?: unknown } | null)?.memoryMb;
  return typeof memoryMb === 'number' && memoryMb > 0 ? memoryMb : undefined;
}

/** A deployment the registry refused, as the client sees it: a taken name conflicts, anything else is invalid. */
function refusedDeployment(error: RegistryError): ApiError {
  const errors = [{ path: error.field, message: error.message }];
  return error instanceof ReservedNameError
    ? new ApiError(409, 'Name reserved', error.message, { errors })
    : new ApiError(400, 'Invalid request', error.message, { errors });
}

export function functionRoutes(deps: ApiDeps): OpenAPIHono<Env> {
  // A name no function can have: deploying it is invalid (400), reading or deleting it finds nothing (404).
  const app = new OpenAPIHono<Env>({
    defaultHook: rejectInvalid((c) =>
      c.req.method === 'PUT' ? undefined : notFound(`Function ${c.req.param('name')}`),
    ),
  });

  app.openapi(readByHandler(app, deployFunctionRoute), async (c) => {
    const type = c.req.header('content-type') ?? '';
    let code: string;
    let defaults: unknown = {};
    if (/^(application|text)\/javascript\b/i.test(type)) {
      code = await readText(c, MAX_DEPLOY_BYTES);
    } else {
      const parsed = deployJsonSchema.safeParse(await readJson(c, MAX_DEPLOY_BYTES));
      if (!parsed.success) throw invalid(parsed.error);
      code = parsed.data.code;
      defaults = parsed.data.defaults ?? {};
    }
    await deps.deployChecker.check(c.get('tenant'), code, memoryOf(defaults));
    const deployed = await deps.registry
      .deploy(c.get('tenant'), c.req.valid('param').name, code, defaults)
      .catch((error: unknown) => {
        throw error instanceof RegistryError ? refusedDeployment(error) : error;
      });
    return deployed.created ? c.json(view(deployed), 201) : c.json(view(deployed), 200);
  });

  app.openapi(listFunctionsRoute, async (c) => {
    const own = await deps.registry.list(c.get('tenant'));
    const builtins = await deps.registry.list(BUILTIN_TENANT);
    const names = new Set(own.map((f) => f.name));
    return c.json({ functions: [...own, ...builtins.filter((f) => !names.has(f.name))].map(view) }, 200);
  });

  app.openapi(getFunctionRoute, async (c) => {
    const { name } = c.req.valid('param');
    let versions = await deps.registry.versions(c.get('tenant'), name);
    if (versions.length === 0) versions = await deps.registry.versions(BUILTIN_TENANT, name);
    if (versions.length === 0) throw notFound(`Function ${name}`);
    const latest = versions[0] as DeployedFunction;
    const paused = latest.tenant === c.get('tenant') && (await deps.registry.isPaused(latest.tenant, name));
    return c.json({ name, latest: view(latest), versions: versions.map(view), paused }, 200);
  });

  for (const [route, paused] of [
    [pauseFunctionRoute, true],
    [resumeFunctionRoute, false],
  ] as const) {
    app.openapi(route, async (c) => {
      const { name } = c.req.valid('param');
      const tenant = c.get('tenant');
      if (await deps.registry.setPaused(tenant, name, paused)) return c.json({ name, paused }, 200);
      if (await deps.registry.isBuiltin(name)) {
        throw new ApiError(
          409,
          'Built-in function',
          `${name} is a built-in function: it cannot be paused by a tenant.`,
        );
      }
      throw notFound(`Function ${name}`);
    });
  }

  app.openapi(deleteFunctionRoute, async (c) => {
    const { name } = c.req.valid('param');
    if (!(await deps.registry.delete(c.get('tenant'), name))) throw notFound(`Function ${name}`);
    return c.body(null, 204);
  });

  return app;
}
