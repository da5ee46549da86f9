import { createRoute, z } from '@hono/zod-openapi';
import { TAGS, v1Problems } from './common.js';

export const consoleStreamRoute = createRoute({
  method: 'get',
  path: '/console/stream',
  operationId: 'streamConsole',
  tags: [TAGS.cluster.name],
  summary: 'Follow the cluster live, as the key may see it (server-sent events)',
  description:
    "What the web console at /console shows, once a second while anyone follows it: one reader per API process reads the nodes' heartbeats and every stream gets the same snapshot, filtered to the key's tenant. Events: `hello` ({tenant, admin}), `history` (admin: each node's recent samples), `snapshot` ({at, redis, processes (with their links and monitors; for a tenant only those naming its own processes, the rest counted), supervision (each node's supervision tree; for a tenant only its own job processes and the supervisors above them), nodes (admin only)}); `timeout` after 10 minutes, then reconnect.",
  responses: {
    200: {
      description: 'The event stream.',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...v1Problems([]),
  },
});
