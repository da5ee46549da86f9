import { OpenAPIHono } from '@hono/zod-openapi';
import type { UnofficialStatusCode } from 'hono/utils/http-status';
import { type AuthVariables, authenticate } from './auth.js';
import { ClusterFeed } from './console/cluster-feed.js';
import { mountConsole } from './console/static-files.js';
import { openApiDocument } from './contract/document.js';
import type { ApiDeps } from './deps.js';
import { mountReferencePage } from './docs/reference-page.js';
import { ApiError, problem } from './problem.js';
import { ClientClosedRequest } from './routes/body.js';
import { clusterRoutes } from './routes/cluster.js';
import { consoleRoutes } from './routes/console.js';
import { functionRoutes } from './routes/functions.js';
import { jobRoutes } from './routes/jobs.js';
import { liveNodes, processRoutes } from './routes/processes.js';
import { scheduleRoutes } from './routes/schedules.js';

type Env = { Variables: AuthVariables };

/** nginx's status for a request its client closed: logged nowhere as an error, answered to no one. */
const CLIENT_CLOSED_REQUEST = 499 as UnofficialStatusCode;

/** Errors ioredis and BullMQ raise while Redis is unreachable. */
function isRedisUnavailable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|Redis is not reachable|ETIMEDOUT/i.test(
    message,
  );
}

const DOCUMENT_PATH = '/openapi.json';

/**
 * The Hono application: /v1 under API-key auth, plus health, readiness, metrics, the web console, the OpenAPI
 * document generated from the /v1 routes, and the reference page that renders it.
 */
export function createApp(deps: ApiDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>();

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath || 'unmatched';
    if (c.res.status === CLIENT_CLOSED_REQUEST) {
      deps.metrics.clientClosed.inc({ route, method: c.req.method });
      return;
    }
    deps.metrics.requestSeconds.observe(
      { route, method: c.req.method, status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    deps.redisReady()
      ? c.json({ status: 'ready' })
      : c.json({ status: 'not ready', reasons: [`redis ${deps.redis.status}`] }, 503),
  );
  app.get('/metrics', async (c) =>
    c.body(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }),
  );
  app.use('/v1/*', authenticate(deps.config.apiKeys));
  app.use('/v1/*', async (_c, next) => {
    if (!deps.redisReady()) {
      throw new ApiError(
        503,
        'Service unavailable',
        'Redis is unreachable; nothing was changed. Retry shortly.',
        {},
        { 'retry-after': '5' },
      );
    }
    await next();
  });
  app.route('/v1/functions', functionRoutes(deps));
  app.route('/v1/jobs', jobRoutes(deps));
  app.route('/v1/schedules', scheduleRoutes(deps));
  app.route('/v1/processes', processRoutes(deps));
  app.route('/v1', clusterRoutes(deps));
  app.route('/v1', consoleRoutes(new ClusterFeed(() => liveNodes(deps)), deps.metrics.registry));

  const document = openApiDocument(app);
  app.get(DOCUMENT_PATH, (c) => c.json(document));
  mountReferencePage(app, DOCUMENT_PATH);
  mountConsole(app);

  app.notFound((c) => problem(c, new ApiError(404, 'Not found', `No route ${c.req.method} ${c.req.path}; see /docs.`)));
  app.onError((error, c) => {
    if (error instanceof ApiError) return problem(c, error);
    if (error instanceof ClientClosedRequest) {
      deps.logger.debug({ path: c.req.path, reason: error.message }, 'client closed the request');
      return c.body(null, CLIENT_CLOSED_REQUEST);
    }
    if (isRedisUnavailable(error) || !deps.redisReady()) {
      return problem(
        c,
        new ApiError(503, 'Service unavailable', 'Redis is unreachable. Retry shortly.', {}, { 'retry-after': '5' }),
      );
    }
    deps.logger.error({ err: error, path: c.req.path }, 'request failed');
    return problem(c, new ApiError(500, 'Internal error', 'The request failed unexpectedly; it has been logged.'));
  });
  return app;
}

/**
 * The OpenAPI document the API serves, built without Redis or a server: the SDK generates its
 * client's types from it. No handler runs; the routes are only mounted.
 */
export async function servedOpenApiDocument(): Promise<unknown> {
  const inert = {
    config: { apiKeys: [] },
    metrics: { requestSeconds: { observe() {} }, clientClosed: { inc() {} } },
    redisReady: () => false,
  } as unknown as ApiDeps;
  const response = await createApp(inert).request(DOCUMENT_PATH);
  return response.json();
}
