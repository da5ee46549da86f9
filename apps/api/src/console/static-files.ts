import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Env, Hono } from 'hono';

/**
 * Where `npm run build` puts the console's bundle (console/build.mjs): the same directory seen
 * from src/console (tests) and from dist/console (production).
 */
export const CONSOLE_BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'console', 'public');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Only this host's scripts, styles and connections (uPlot sets inline styles). */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

interface StaticFile {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly type: string;
}

/** The built files by name, read once: nothing outside the build's own list is ever served. */
function readBuild(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    const gzipPath = join(dir, `${name}.gz`);
    files.set(name, {
      body: readFileSync(join(dir, name)),
      gzipped: existsSync(gzipPath) ? readFileSync(gzipPath) : undefined,
      type,
    });
  }
  return files;
}

function send(c: Context, file: StaticFile, cacheControl: string): Response {
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const body = gzip ? (file.gzipped as Buffer) : file.body;
  return c.body(new Uint8Array(body), 200, {
    'content-type': file.type,
    'cache-control': cacheControl,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
}

/**
 * The web console: `/` redirects to `/console`, which serves its page (revalidated each time);
 * its scripts and styles, whose names carry their content hash, are cached for a year.
 */
export function mountConsole<E extends Env>(app: Hono<E>, dir = CONSOLE_BUILD_DIR): void {
  let files: Map<string, StaticFile> | undefined;
  const built = () => {
    files ??= readBuild(dir);
    return files;
  };
  app.get('/', (c) => c.redirect('/console', 302));
  app.get('/console/', (c) => c.redirect('/console', 301));
  app.get('/console', (c) => {
    const page = built().get('index.html');
    if (!page) {
      return c.text('The console is not built: run `npm run build -w @beamline/api`.', 503, {
        'cache-control': 'no-store',
      });
    }
    return send(c, page, 'no-cache');
  });
  app.get('/console/:file', (c) => {
    const name = c.req.param('file');
    const file = name === 'index.html' ? undefined : built().get(name);
    if (!file) return c.notFound();
    return send(c, file, 'public, max-age=31536000, immutable');
  });
}
