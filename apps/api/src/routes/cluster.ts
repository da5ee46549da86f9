import { BacklogFullError } from '@beamline/jobs';
import { Hono } from 'hono';
import { type AuthVariables, requireAdmin } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, backlogFull, notFound } from '../problem.js';
import { toApiJob } from '../views.js';
import { liveNodes } from './processes.js';

type Env = { Variables: AuthVariables };

export function clusterRoutes(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/nodes', requireAdmin(), async (c) => {
    const nodes = await liveNodes(deps);
    return c.json({
      nodes: nodes.map(({ node, at, stats, processes }) => ({
        node,
        lastSeen: new Date(at).toISOString(),
        stats,
        processes: processes?.length ?? 0,
      })),
    });
  });
  app.get('/queues', requireAdmin(), async (c) => {
    const counts = await deps.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    return c.json({ queues: [{ name: deps.queue.name, counts }] });
  });
  app.get('/dead-letters', async (c) => {
    const tenant = c.get('tenant');
    const admin = c.get('admin');
    const letters = await deps.jobs.deadLetters(admin ? undefined : tenant);
    return c.json({ deadLetters: letters.map((view) => toApiJob(view)) });
  });
  app.post('/dead-letters/:id/requeue', async (c) => {
    const id = c.req.param('id');
    const view = /^(\d{1,16}|idem-[0-9a-f]{32})$/.test(id) ? await deps.jobs.get(id) : undefined;
    if (!view || (!c.get('admin') && view.tenant !== c.get('tenant'))) throw notFound(`Dead letter ${id}`);
    const retried = await deps.jobs.retry(id, view.tenant).catch((error) => {
      throw error instanceof BacklogFullError ? backlogFull(error) : error;
    });
    if (!retried) throw new ApiError(409, 'Conflict', `Job ${id} is not a dead letter (it is not failed).`);
    return c.json(toApiJob((await deps.jobs.get(id)) ?? view), 202);
  });
  return app;
}
