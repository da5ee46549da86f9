import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { z } from 'zod';

/**
 * The API benchmark's baseline, in its own process as the API is: `node hono-baseline.js <redisUrl> <port> <prefix>`.
 * The least a submission endpoint does: parse the JSON body, validate it with zod, Queue.add
 * (addBulk for a batch), answer 202 with the id. GET /healthz answers at once: the HTTP ceiling.
 * No auth, no function registry, no tenant bookkeeping. Prints "listening" once it serves.
 */

const [redisUrl, port, prefix] = process.argv.slice(2) as [string, string, string];
const jobSchema = z.object({ function: z.string(), input: z.unknown().optional() });
const batchSchema = z.object({ jobs: z.array(jobSchema).min(1).max(500) });
const queue = new Queue('jobs', { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix });
await queue.waitUntilReady();

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/jobs', async (c) => {
  const parsed = jobSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return c.json({ error: parsed.error.message }, 400);
  const job = await queue.add(parsed.data.function, parsed.data, { priority: 2 });
  return c.json({ id: job.id }, 202);
});
app.post('/v1/jobs/batch', async (c) => {
  const parsed = batchSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return c.json({ error: parsed.error.message }, 400);
  const jobs = await queue.addBulk(
    parsed.data.jobs.map((data) => ({ name: data.function, data, opts: { priority: 2 } })),
  );
  return c.json({ ids: jobs.map((job) => job.id) }, 202);
});

serve({ fetch: app.fetch, port: Number(port), hostname: '127.0.0.1' }, () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => void queue.close().then(() => process.exit(0)));
