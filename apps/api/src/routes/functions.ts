import {
  BUILTIN_TENANT,
  type DeployedFunction,
  functionDefaultsSchema,
  MAX_BUNDLE_BYTES,
  RegistryError,
} from '@beamline/jobs';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AuthVariables } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, invalid, notFound } from '../problem.js';
import { readJson, readText } from './body.js';

/** A bundle and its JSON wrapping. */
const MAX_DEPLOY_BYTES = MAX_BUNDLE_BYTES + 64 * 1024;

export const deployJsonSchema = z.strictObject({
  code: z.string().min(1, 'the JavaScript source of an ES module whose default export is async (input, ctx) => result'),
  defaults: functionDefaultsSchema.optional(),
});

type Env = { Variables: AuthVariables };

const view = (f: DeployedFunction) => ({
  name: f.name,
  version: f.version,
  sha256: f.sha256,
  defaults: f.defaults,
  createdAt: new Date(f.createdAt).toISOString(),
  builtin: f.tenant === BUILTIN_TENANT,
});

export function functionRoutes(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.put('/:name', async (c) => {
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
    try {
      const deployed = await deps.registry.deploy(c.get('tenant'), c.req.param('name'), code, defaults);
      return c.json(view(deployed), deployed.created ? 201 : 200);
    } catch (error) {
      if (error instanceof RegistryError) {
        const path = error.field;
        throw new ApiError(400, 'Invalid request', error.message, { errors: [{ path, message: error.message }] });
      }
      throw error;
    }
  });

  app.get('/', async (c) => {
    const own = await deps.registry.list(c.get('tenant'));
    const builtins = await deps.registry.list(BUILTIN_TENANT);
    const names = new Set(own.map((f) => f.name));
    return c.json({ functions: [...own, ...builtins.filter((f) => !names.has(f.name))].map(view) });
  });

  app.get('/:name', async (c) => {
    const name = c.req.param('name');
    let versions = await deps.registry.versions(c.get('tenant'), name);
    if (versions.length === 0) versions = await deps.registry.versions(BUILTIN_TENANT, name);
    if (versions.length === 0) throw notFound(`Function ${name}`);
    return c.json({ name, latest: view(versions[0] as DeployedFunction), versions: versions.map(view) });
  });

  app.delete('/:name', async (c) => {
    const name = c.req.param('name');
    if (!(await deps.registry.delete(c.get('tenant'), name))) throw notFound(`Function ${name}`);
    return c.body(null, 204);
  });

  return app;
}
