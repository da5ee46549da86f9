import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Env } from 'hono';

type HandlerReadsBody<R extends RouteConfig> = Omit<R, 'request'> & {
  request: Omit<NonNullable<R['request']>, 'body' | 'headers'>;
  hide: true;
};

/**
 * Documents `route` whole, and returns it for `app.openapi` without its body and headers: the
 * handler reads those itself, the JSON body with readJson (straight from Node's request, bounded,
 * a client's disconnect told apart) and validated with the very schema documented here, so it is
 * never read again nor parsed twice through a Web Request. Path and query stay validated by the route.
 */
export function readByHandler<E extends Env, R extends RouteConfig>(
  app: OpenAPIHono<E>,
  route: R,
): HandlerReadsBody<R> {
  const { middleware: _middleware, hide: _hide, ...documented } = route;
  app.openAPIRegistry.registerPath(documented as RouteConfig);
  const { body: _body, headers: _headers, ...validated } = route.request ?? {};
  return { ...route, request: validated, hide: true } as HandlerReadsBody<R>;
}
