import type { OpenAPIHonoOptions } from '@hono/zod-openapi';
import type { Context, Env } from 'hono';
import { type ApiError, invalid } from '../problem.js';

/**
 * What a request failing its route's validation gets: 400 naming each failing field (`query.limit`,
 * or a path parameter by its name), or the 404 `notFound` gives, if any, for a path parameter that
 * cannot name a resource (it does not exist).
 */
export function rejectInvalid<E extends Env>(
  notFound?: (c: Context<E>) => ApiError | undefined,
): NonNullable<OpenAPIHonoOptions<E>['defaultHook']> {
  return (result, c) => {
    if (result.success) return;
    const absent = result.target === 'param' ? notFound?.(c) : undefined;
    if (absent) throw absent;
    throw invalid(result.error, result.target === 'query' ? 'query' : undefined);
  };
}
