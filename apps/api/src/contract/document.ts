import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';
import type { LicenseObject } from 'openapi3-ts/oas31';
import { TAGS } from './common.js';

const API_KEY = 'apiKey';

/**
 * The OpenAPI 3.1 document of `app`, generated from its routes: the schemas in it are the ones
 * the handlers validate with. Call it once every route is mounted.
 */
export function openApiDocument<E extends Env>(app: OpenAPIHono<E>) {
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY, {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key from BEAMLINE_API_KEYS, as "Authorization: Bearer <key>". Each key belongs to a tenant; the admin key may see every tenant.',
  });
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Beamline API',
      version: '1.0.0',
      description:
        "Jobs run as isolated, supervised processes on Beamline worker nodes. Every error is application/problem+json (RFC 9457), naming each failing field in `errors`. Another tenant's jobs, functions and processes answer 404.",
      // An SPDX identifier (OpenAPI 3.1), which the generator's 3.0-era license type does not list.
      license: { name: 'Proprietary', identifier: 'LicenseRef-Beamline-Proprietary' } as LicenseObject,
    },
    servers: [{ url: '/', description: 'The API serving this document.' }],
    security: [{ [API_KEY]: [] }],
    tags: Object.values(TAGS),
  });
}
