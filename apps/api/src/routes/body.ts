import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from '../problem.js';

/**
 * The request body as JSON, or a 400/413/415 that says what was wrong with it. Under Node the
 * body is read straight from the socket's message, at most `maxBytes` of it: building a Web
 * Request and a stream per request to read a few bytes costs more than the rest of a submission.
 */
export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ApiError(
      415,
      'Unsupported media type',
      `Send the body as application/json (got ${type || 'no content type'}).`,
    );
  }
  const text = await readText(c, maxBytes);
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

/** The request body as text, at most `maxBytes` of it (413 beyond). */
export function readText(c: Context, maxBytes: number): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming ? readIncoming(incoming, maxBytes) : readRequest(c, maxBytes);
}

/** The client went away before its request body arrived whole: nobody is left to answer. */
export class ClientClosedRequest extends Error {
  override readonly name = 'ClientClosedRequest';
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'Payload too large', `Request bodies may be at most ${maxBytes} bytes.`);
}

async function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(incoming.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of incoming) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (incoming.destroyed || incoming.socket?.destroyed) {
      throw new ClientClosedRequest(`the client closed the connection after ${size} bytes of the body`);
    }
    throw error;
  }
  if (!incoming.complete) {
    throw new ClientClosedRequest(`the client closed the connection after ${size} bytes of the body`);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
}

async function readRequest(c: Context, maxBytes: number): Promise<string> {
  const text = await c.req.text();
  if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
  return text;
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
