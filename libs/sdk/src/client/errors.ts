import type { Problem } from './types.js';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** The API refused or failed a request; carries its application/problem+json fields (RFC 9457). */
export class BeamlineApiError extends Error {
  override readonly name = 'BeamlineApiError';
  /** The HTTP status. */
  readonly status: number;
  readonly type: string | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly instance: string | undefined;
  /** One entry per failing field (`backoff.delayMs`, `jobs.3.priority`). */
  readonly errors: readonly FieldError[];
  /** The whole body, with any extension fields (`reason`, `backlog`, `cap`, `job`). */
  readonly problem: Problem & Record<string, unknown>;
  /** Seconds to wait before retrying, when the API said (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: unknown, headers?: Headers) {
    const problem = (typeof body === 'object' && body !== null ? body : { detail: textOf(body) }) as Problem &
      Record<string, unknown>;
    super(describe(status, problem));
    this.status = status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.instance = problem.instance;
    this.errors = (problem.errors ?? []).map((e) => ({ path: e.path ?? '', message: e.message ?? '' }));
    this.problem = problem;
    const retryAfter = Number(headers?.get('retry-after') ?? Number.NaN);
    this.retryAfter = Number.isFinite(retryAfter) ? retryAfter : undefined;
  }
}

/** The API could not be reached (connection refused, DNS, TLS, a dropped connection). */
export class BeamlineConnectionError extends Error {
  override readonly name = 'BeamlineConnectionError';

  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`Cannot reach the Beamline API at ${url}: ${reasonOf(cause)}`, { cause });
  }
}

function describe(status: number, problem: Problem): string {
  const head = problem.title ? `${problem.title} (${status})` : `HTTP ${status}`;
  return problem.detail ? `${head}: ${problem.detail}` : head;
}

function textOf(body: unknown): string | undefined {
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  return body.length > 300 ? `${body.slice(0, 300)}…` : body;
}

/** undici hides the socket's error (ECONNREFUSED…) in `cause`. */
function reasonOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
  }
  return String(cause);
}
