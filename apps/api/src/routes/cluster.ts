import { BacklogFullError } from '@beamline/jobs';
import { OpenAPIHono } from '@hono/zod-openapi';
import { type AuthVariables, requireAdmin } from '../auth.js';
import { listDeadLettersRoute, listNodesRoute, listQueuesRoute, requeueDeadLetterRoute } from '../contract/cluster.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, backlogFull, notFound } from '../problem.js';
import { toApiJob } from '../views.js';
import { liveNodes } from './processes.js';
import { rejectInvalid } from './validation.js';

type Env = { Variables: AuthVariables };

export function clusterRoutes(deps: ApiDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({ defaultHook: rejectInvalid((c) => notFound(`Dead letter ${c.req.param('id')}`)) });
  app.openapi({ ...listNodesRoute, middleware: [requireAdmin()] }, async (c) => {
    const nodes = await liveNodes(deps);
    return c.json(
      {
        nodes: nodes.map(({ node, at, stats, processes }) => ({
          node,
          lastSeen: new Date(at).toISOString(),
          stats,
          processes: processes?.length ?? 0,
        })),
      },
      200,
    );
  });
  app.openapi({ ...listQueuesRoute, middleware: [requireAdmin()] }, async (c) => {
    const counts = await deps.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    return c.json({ queues: [{ name: deps.queue.name, counts }] }, 200);
  });
  app.openapi(listDeadLettersRoute, async (c) => {
    const tenant = c.get('tenant');
    const admin = c.get('admin');
    const letters = await deps.jobs.deadLetters(admin ? undefined : tenant);
    return c.json({ deadLetters: letters.map((view) => toApiJob(view)) }, 200);
  });
  app.openapi(requeueDeadLetterRoute, async (c) => {
    const { id } = c.req.valid('param');
    const view = await deps.jobs.get(id);
    if (!view || (!c.get('admin') && view.tenant !== c.get('tenant'))) throw notFound(`Dead letter ${id}`);
    const retried = await deps.jobs.retry(id, view.tenant).catch((error) => {
      throw error instanceof BacklogFullError ? backlogFull(error) : error;
    });
    if (!retried) throw new ApiError(409, 'Conflict', `Job ${id} is not a dead letter (it is not failed).`);
    return c.json(toApiJob((await deps.jobs.get(id)) ?? view), 202);
  });
  return app;
}
