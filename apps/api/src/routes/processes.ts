import { OPERATOR_TENANT } from '@beamline/jobs';
import { isPid, nodeOfPid } from '@beamline/runtime';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AuthVariables } from '../auth.js';
import type { SchedulerStats } from '../contract/cluster.js';
import {
  type HeartbeatProcess,
  killProcessRoute,
  listProcessesRoute,
  messageSchema,
  sendMessageRoute,
} from '../contract/processes.js';
import type { ApiDeps } from '../deps.js';
import { invalid, noProcess } from '../problem.js';
import { readJson } from './body.js';
import { readByHandler } from './read-by-handler.js';
import { rejectInvalid } from './validation.js';

type Env = { Variables: AuthVariables };

interface NodeBeat {
  readonly at: number;
  readonly stats: SchedulerStats;
  readonly processes?: HeartbeatProcess[];
}

/** What one live node's latest heartbeat says, or undefined when it is not live. */
export async function nodeBeat(deps: ApiDeps, node: string): Promise<NodeBeat | undefined> {
  const beat = await deps.redis.get(deps.keys.node(node));
  return beat ? (JSON.parse(beat) as NodeBeat) : undefined;
}

/** The pid of a running job's process, as its node's latest heartbeat says (undefined until it has). */
export async function pidOfJob(deps: ApiDeps, node: string | undefined, jobId: string): Promise<string | undefined> {
  if (node === undefined) return undefined;
  const beat = await nodeBeat(deps, node);
  const entry = beat?.processes?.find((p) => p.jobId === jobId);
  return typeof entry?.pid === 'string' ? entry.pid : undefined;
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

export function processRoutes(deps: ApiDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({ defaultHook: rejectInvalid((c) => noProcess(c.req.param('pid') ?? '')) });

  /**
   * The pid, if it is a live job process of the caller's tenant (the admin may reach any job
   * process), as the latest heartbeat of the node the pid names says.
   */
  const reachable = async (tenant: string, admin: boolean, pid: string) => {
    const node = isPid(pid) ? nodeOfPid(pid) : undefined;
    const beat = node === undefined ? undefined : await nodeBeat(deps, node);
    const owner = beat?.processes?.find((p) => p.pid === pid);
    if (typeof owner?.jobId !== 'string' || typeof owner.tenant !== 'string') throw noProcess(pid);
    if (!admin && owner.tenant !== tenant) throw noProcess(pid);
    return { jobId: owner.jobId, tenant: owner.tenant };
  };

  /**
   * A control message no node received: the pid's node is gone, though its last heartbeat has
   * not expired yet (a node killed with SIGKILL). On a Redis Cluster, PUBLISH counts only the
   * subscribers of the shard it reached, so there only the heartbeat's expiry tells.
   */
  const unreceived = (delivered: number) => delivered === 0 && !('isCluster' in deps.redis && deps.redis.isCluster);

  /**
   * The tenant stamped on what this caller sends over the control channel: the API key's
   * tenant, or the operator marker for the admin key (which may reach a job of any tenant).
   * The receiving worker node checks it against the target job's tenant.
   */
  const senderTenant = (tenant: string, admin: boolean) => (admin ? OPERATOR_TENANT : tenant);

  app.openapi(readByHandler(app, sendMessageRoute), async (c) => {
    const { pid } = c.req.valid('param');
    const parsed = messageSchema.safeParse(await readJson(c, deps.config.maxBodyBytes));
    if (!parsed.success) throw invalid(parsed.error);
    const owner = await reachable(c.get('tenant'), c.get('admin'), pid);
    const delivered = await deps.control.send(
      pid,
      'api.0',
      parsed.data.message,
      senderTenant(c.get('tenant'), c.get('admin')),
    );
    if (unreceived(delivered)) throw noProcess(pid);
    return c.json({ pid, jobId: owner.jobId, delivered: delivered > 0 }, 202);
  });

  app.openapi(killProcessRoute, async (c) => {
    const { pid } = c.req.valid('param');
    const owner = await reachable(c.get('tenant'), c.get('admin'), pid);
    const delivered = await deps.control.exit(pid, 'api.0', 'kill', senderTenant(c.get('tenant'), c.get('admin')));
    if (unreceived(delivered)) throw noProcess(pid);
    return c.json({ pid, jobId: owner.jobId, delivered: delivered > 0 }, 202);
  });

  app.openapi(listProcessesRoute, async (c) => {
    const tenant = c.get('tenant');
    const admin = c.get('admin');
    const processes = (await liveNodes(deps)).flatMap(({ node, processes: list = [] }) =>
      list.filter((p) => admin || p.tenant === tenant).map((p) => listed(node, p)),
    );
    return c.json({ processes }, 200);
  });

  return app;
}

/** A process as the listing shows it: only the documented fields, whatever else a heartbeat carries. */
function listed(node: string, p: HeartbeatProcess) {
  const { pid, jobId, tenant, function: fn, status, cpuTimeNs, memory, messageQueueLength, priority } = p;
  return { node, pid, jobId, tenant, function: fn, status, cpuTimeNs, memory, messageQueueLength, priority };
}
