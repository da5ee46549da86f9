import { OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { Gauge, type Registry } from 'prom-client';
import type { AuthVariables } from '../auth.js';
import type { ClusterFeed, FeedTick, Viewer } from '../console/cluster-feed.js';
import { consoleStreamRoute } from '../contract/console.js';

/** A stream ends after this long; the console reconnects. */
const MAX_STREAM_MS = 10 * 60_000;

type Env = { Variables: AuthVariables };

/**
 * GET /v1/console/stream: the feed's ticks, as the caller's key may see them. The streams open on
 * this API process are `beamline_console_streams` on `registry`.
 */
export function consoleRoutes(feed: ClusterFeed, registry?: Registry): OpenAPIHono<Env> {
  if (registry) {
    new Gauge({
      name: 'beamline_console_streams',
      help: 'Console event streams open on this API process (a browser shares one between its tabs)',
      registers: [registry],
      collect() {
        this.set(feed.viewers);
      },
    });
  }
  const app = new OpenAPIHono<Env>();
  app.openapi(consoleStreamRoute, (c) => {
    const viewer: Viewer = { tenant: c.get('tenant'), admin: c.get('admin') };
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'content-type': 'text/event-stream' });
    return streamSSE(c, async (stream) => {
      await stream.writeSSE({ event: 'hello', data: JSON.stringify(viewer) });
      if (viewer.admin) await stream.writeSSE({ event: 'history', data: JSON.stringify(feed.samples()) });
      // A viewer slower than the ticks skips to the newest one instead of queueing them.
      let writing = false;
      let pending: FeedTick | undefined;
      const write = async (tick: FeedTick) => {
        writing = true;
        for (let next: FeedTick | undefined = tick; next && !stream.aborted; next = pending) {
          pending = undefined;
          await stream.writeSSE({ event: 'snapshot', data: next.payloadFor(viewer) });
        }
        writing = false;
      };
      let ended: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        ended = resolve;
      });
      const unsubscribe = feed.subscribe((tick) => {
        if (writing) pending = tick;
        else write(tick).catch(ended);
      });
      stream.onAbort(ended);
      const timeout = setTimeout(ended, MAX_STREAM_MS);
      await done;
      clearTimeout(timeout);
      unsubscribe();
      if (!stream.aborted) await stream.writeSSE({ event: 'timeout', data: JSON.stringify({ reconnect: true }) });
    });
  });
  return app;
}
