import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

/** An error the client can act on, answered as application/problem+json (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export function problem(c: Context, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.body(
    JSON.stringify({
      type: `https://beamline.dev/problems/${error.title.toLowerCase().replaceAll(' ', '-')}`,
      title: error.title,
      status: error.status,
      detail: error.message,
      instance: c.req.path,
      ...error.extra,
    }),
    error.status,
    { 'content-type': 'application/problem+json' },
  );
}

/** 400 listing every problem with the path of the field that failed (`jobs.3.priority`). */
export function invalid(error: z.ZodError, root?: string): ApiError {
  const at = (parts: readonly PropertyKey[]) =>
    [root, ...parts.map(String)].filter((part) => part !== undefined && part !== '').join('.') || '(body)';
  const errors = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: at([...issue.path, key]), message: 'unknown field; remove it' }))
      : [{ path: at(issue.path), message: issue.message }],
  );
  return new ApiError(400, 'Invalid request', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

export const notFound = (what: string) => new ApiError(404, 'Not found', `${what} does not exist.`);

/** 404 for a pid that no live node holds (OTP's noproc): its job ended, or its node is gone. */
export const noProcess = (pid: string) =>
  new ApiError(404, 'No such process', `No live process ${pid}: its job has ended or its node is gone (noproc).`, {
    reason: 'noproc',
  });

/** A 429 for a tenant whose backlog has no room: how full it is, the cap, and when to retry. */
export const backlogFull = (error: { message: string; backlog: number; cap: number }) =>
  new ApiError(
    429,
    'Too many jobs',
    error.message,
    { backlog: error.backlog, cap: error.cap },
    { 'retry-after': '10' },
  );
