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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'Malformed JSON', `The body is not valid JSON: ${(error as Error).message}.`);
  }
  if (depthOf(value) > MAX_DEPTH) {
    throw new ApiError(400, 'Invalid request', `The body is nested deeper than ${MAX_DEPTH} levels.`);
  }
  return value;
}

/** JSON nested deeper than this is refused (it would overflow the stack of whoever handles it). */
const MAX_DEPTH = 64;

/** How deeply a JSON value nests, counted without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_DEPTH) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}
