import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Probes {
  /** The node's process is up and its root supervisor alive. */
  live(): boolean;
  /** The node takes jobs: Redis reachable, consumer running, not draining. */
  ready(): { readonly ready: boolean; readonly reasons: readonly string[] };
}

/** `/metrics` (Prometheus text), `/healthz` and `/readyz` (JSON). */
export function startHttpServer(port: number, host: string, registry: Registry, probes: Probes): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      json(405, { error: `${request.method} is not allowed; use GET.` });
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(text);
        })
        .catch((error: unknown) => json(500, { error: `metrics collection failed: ${String(error)}` }));
    } else if (path === '/healthz') {
      const live = probes.live();
      json(live ? 200 : 503, { status: live ? 'ok' : 'down' });
    } else if (path === '/readyz') {
      const { ready, reasons } = probes.ready();
      json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', reasons });
    } else {
      json(404, { error: `No route ${path}: try /metrics, /healthz or /readyz.` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
