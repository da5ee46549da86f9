import { OPERATOR_TENANT } from '@beamline/jobs';
import { isPid } from '@beamline/runtime';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AuthVariables } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { invalid, notFound } from '../problem.js';
import { readJson } from './body.js';

export const messageSchema = z.strictObject({ message: z.unknown() }).refine((b) => 'message' in b, {
  message: 'the body must be { "message": <any JSON value> }',
});

type Env = { Variables: AuthVariables };

interface NodeBeat {
  readonly at: number;
  readonly stats: unknown;
  readonly processes?: Array<Record<string, unknown> & { readonly tenant?: string }>;
}

/** Live worker nodes and what their latest heartbeat says. */
export async function liveNodes(deps: ApiDeps): Promise<Array<NodeBeat & { readonly node: string }>> {
  const ids = await deps.redis.zrangebyscore(deps.keys.nodes, Date.now() - 15_000, '+inf');
  const beats = ids.length > 0 ? await deps.redis.mget(...ids.map((id) => deps.keys.node(id))) : [];
  return ids.flatMap((node, i) => {
    const beat = beats[i];
    return beat ? [{ node, ...(JSON.parse(beat) as NodeBeat) }] : [];
  });
}

export function processRoutes(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();

  /** The pid, if it is a job process of the caller's tenant (the admin may reach any job process). */
  const reachable = async (tenant: string, admin: boolean, pid: string) => {
    if (!isPid(pid)) throw notFound(`Process ${pid}`);
    const entry = await deps.redis.hget(deps.keys.pids, pid);
    if (!entry) throw notFound(`Process ${pid}`);
    const owner = JSON.parse(entry) as { jobId: string; tenant: string };
    if (!admin && owner.tenant !== tenant) throw notFound(`Process ${pid}`);
    return owner;
  };

  /**
   * The tenant stamped on what this caller sends over the control channel: the API key's
   * tenant, or the operator marker for the admin key (which may reach a job of any tenant).
   * The receiving worker node checks it against the target job's tenant.
   */
  const senderTenant = (tenant: string, admin: boolean) => (admin ? OPERATOR_TENANT : tenant);

  app.post('/:pid/messages', async (c) => {
    const pid = c.req.param('pid');
    const parsed = messageSchema.safeParse(await readJson(c));
    if (!parsed.success) throw invalid(parsed.error);
    const owner = await reachable(c.get('tenant'), c.get('admin'), pid);
    const delivered = await deps.control.send(
      pid,
      'api.0',
      parsed.data.message,
      senderTenant(c.get('tenant'), c.get('admin')),
    );
    return c.json({ pid, jobId: owner.jobId, delivered: delivered > 0 }, 202);
  });

  app.delete('/:pid', async (c) => {
    const pid = c.req.param('pid');
    const owner = await reachable(c.get('tenant'), c.get('admin'), pid);
    const delivered = await deps.control.exit(pid, 'api.0', 'kill', senderTenant(c.get('tenant'), c.get('admin')));
    return c.json({ pid, jobId: owner.jobId, delivered: delivered > 0 }, 202);
  });

  app.get('/', async (c) => {
    const tenant = c.get('tenant');
    const admin = c.get('admin');
    const processes = (await liveNodes(deps)).flatMap(({ node, processes: list = [] }) =>
      list.filter((p) => admin || p.tenant === tenant).map((p) => ({ node, ...p })),
    );
    return c.json({ processes });
  });

  return app;
}
