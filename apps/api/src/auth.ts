import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ADMIN_TENANT, type ApiKey } from './config.js';
import { ApiError, problem } from './problem.js';

export interface AuthVariables {
  tenant: string;
  admin: boolean;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Bearer API keys, each bound to a tenant. Every configured key is compared (in constant time,
 * on sha256 digests so lengths do not leak), whichever matches; keys are never logged.
 */
export function authenticate(keys: readonly ApiKey[]): MiddlewareHandler<{ Variables: AuthVariables }> {
  const known = keys.map((k) => ({ digest: digest(k.key), tenant: k.tenant }));
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      return problem(
        c,
        new ApiError(
          401,
          'Unauthorized',
          'Send an API key as "Authorization: Bearer <key>".',
          {},
          { 'www-authenticate': 'Bearer' },
        ),
      );
    }
    const presented = digest(match[1] as string);
    let tenant: string | undefined;
    for (const key of known) {
      if (timingSafeEqual(presented, key.digest) && tenant === undefined) tenant = key.tenant;
    }
    if (tenant === undefined) {
      return problem(
        c,
        new ApiError(
          401,
          'Unauthorized',
          'The API key is not valid.',
          {},
          { 'www-authenticate': 'Bearer error="invalid_token"' },
        ),
      );
    }
    c.set('tenant', tenant);
    c.set('admin', tenant === ADMIN_TENANT);
    await next();
  };
}

export function requireAdmin(): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    if (!c.get('admin')) return problem(c, new ApiError(403, 'Forbidden', 'This endpoint needs the admin API key.'));
    await next();
  };
}
