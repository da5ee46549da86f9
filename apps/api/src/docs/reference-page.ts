import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scalar } from '@scalar/hono-api-reference';
import type { Env, Hono } from 'hono';

/** Where the reference page loads its script from: this API, never a CDN. */
export const REFERENCE_SCRIPT_PATH = '/docs/scalar.js';

/** Scalar's standalone browser bundle, where @scalar/api-reference keeps it. */
const SCALAR_BUNDLE = join('node_modules', '@scalar', 'api-reference', 'dist', 'browser', 'standalone.js');

/**
 * The path of Scalar's standalone bundle, looked for as Node looks for packages (in every
 * node_modules from here up): the package does not export its browser build.
 */
export function scalarBundlePath(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, SCALAR_BUNDLE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${SCALAR_BUNDLE} is missing: install @scalar/api-reference`);
  }
}

/**
 * /docs: Scalar's API reference for /openapi.json, its script served by this API at
 * REFERENCE_SCRIPT_PATH (Scalar's own standalone bundle). Nothing is fetched from another host:
 * no CDN, no fonts, no telemetry.
 */
export function mountReferencePage<E extends Env>(app: Hono<E>, documentPath: string): void {
  const bundlePath = scalarBundlePath();
  let script: string | undefined;
  app.get(
    '/docs',
    Scalar({
      url: documentPath,
      cdn: REFERENCE_SCRIPT_PATH,
      pageTitle: 'Beamline API',
      withDefaultFonts: false,
      telemetry: false,
      mcp: { disabled: true },
    }),
  );
  app.get(REFERENCE_SCRIPT_PATH, (c) => {
    script ??= readFileSync(bundlePath, 'utf8');
    return c.body(script, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    });
  });
}
