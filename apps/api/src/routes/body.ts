import type { Context } from 'hono';
import { ApiError } from '../problem.js';

/** The request body as JSON, or a 400/415 that says what was wrong with it. */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ApiError(
      415,
      'Unsupported media type',
      `Send the body as application/json (got ${type || 'no content type'}).`,
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'Malformed JSON', `The body is not valid JSON: ${(error as Error).message}.`);
  }
}
