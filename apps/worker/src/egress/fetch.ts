/**
 * Performs a tenant's proxied fetch() under an egress policy: every hop is checked, the connection goes only to a
 * checked address (no second resolution that DNS rebinding could switch), and time and sizes are bounded.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { EgressError } from './errors.js';
import type { EgressPolicy, EgressTarget } from './policy.js';

export interface EgressRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

export interface EgressResponse {
  /** The URL of the final response, after redirects. */
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  /** Lower-case names, hop-by-hop headers removed; the body is passed on as received (not decompressed). */
  readonly headers: [string, string][];
  readonly body: Uint8Array;
  readonly redirected: boolean;
}

export interface EgressLimits {
  /** For the whole request: resolution, every redirect hop, and reading the body. */
  readonly timeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
}

export const DEFAULT_EGRESS_LIMITS: EgressLimits = Object.freeze({
  timeoutMs: 30_000,
  maxRequestBytes: 1024 * 1024,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRedirects: 5,
});

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), never passed on in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers the worker sets itself (or that would make the request hang), which the tenant cannot set. */
const SET_BY_WORKER = new Set(['host', 'content-length', 'expect']);

/** Request headers that describe the body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);

/** Request headers dropped when a redirect leaves the origin, as fetch() does. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** The methods fetch() upper-cases; any other is sent as given. */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Performs `request` for `tenant` under `policy`, following redirects manually (each hop checked again). Throws
 * EgressError for anything refused or failed.
 */
export async function egressFetch(
  tenant: string,
  request: EgressRequest,
  policy: EgressPolicy,
  limits: EgressLimits = DEFAULT_EGRESS_LIMITS,
  /** Aborts the request (the job that made it has ended). */
  cancel?: AbortSignal,
): Promise<EgressResponse> {
  const controller = new AbortController();
  const timeout = new EgressError(
    `Egress timed out: ${describeUrl(request.url)} took longer than ${limits.timeoutMs} ms in all ` +
      '(an operator can raise the egress timeout)',
    'timeout',
  );
  const cancelled = new EgressError(`Egress cancelled: ${describeUrl(request.url)}: the job ended`, 'network');
  const timer = setTimeout(() => controller.abort(timeout), limits.timeoutMs);
  const onCancel = () => controller.abort(cancelled);
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener('abort', onCancel, { once: true });
  try {
    return await perform(tenant, request, policy, limits, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason === cancelled ? cancelled : timeout;
    if (error instanceof EgressError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = (error as Error).message + (code && !(error as Error).message.includes(code) ? ` (${code})` : '');
    throw new EgressError(`Egress failed: ${describeUrl(request.url)}: ${reason}`, 'network', { cause: error });
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
  }
}

async function perform(
  tenant: string,
  request: EgressRequest,
  policy: EgressPolicy,
  limits: EgressLimits,
  signal: AbortSignal,
): Promise<EgressResponse> {
  let url = parseUrl(request.url);
  let method = checkMethod(request.method);
  let headers = requestHeaders(request.headers);
  let body = request.body;
  if (body !== undefined && body.byteLength > limits.maxRequestBytes) {
    throw new EgressError(
      `Egress refused: the request body is ${body.byteLength} bytes, over the limit of ${limits.maxRequestBytes} bytes ` +
        '(an operator can raise the egress request size limit)',
      'too-large',
    );
  }
  for (let hop = 0; ; hop++) {
    const target = await abortable(policy.check(tenant, url), signal);
    const { request: req, response } = await send(target, method, headers, body, signal);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) {
      const received = await readBody(response, req, `${url.protocol}//${url.host}`, method, limits);
      return {
        url: url.href,
        status: response.statusCode ?? 0,
        statusText: response.statusMessage ?? '',
        headers: responseHeaders(response.rawHeaders),
        body: received,
        redirected: hop > 0,
      };
    }
    response.on('error', () => {});
    req.destroy();
    if (hop >= limits.maxRedirects) {
      throw new EgressError(
        `Egress refused: ${describeUrl(request.url)} redirected more than ${limits.maxRedirects} times ` +
          '(an operator can raise the egress redirect limit)',
        'too-many-redirects',
      );
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new EgressError(`Egress failed: ${url.href} redirected to an invalid URL`, 'network');
    }
    const status = response.statusCode;
    if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      headers = headers.filter(([name]) => !BODY_HEADERS.has(name));
    }
    if (next.origin !== url.origin) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name));
    url = next;
  }
}

function describeUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return JSON.stringify(text.slice(0, 200));
  }
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new EgressError(
      `Egress refused: ${JSON.stringify(text.slice(0, 200))} is not a valid absolute URL`,
      'invalid',
    );
  }
}

function checkMethod(method: string): string {
  if (!TOKEN.test(method))
    throw new EgressError(`Egress refused: ${JSON.stringify(method)} is not an HTTP method`, 'invalid');
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) {
    throw new EgressError(`Egress refused: the ${upper} method cannot be used (no operator setting changes this)`);
  }
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** The tenant's headers with lower-case names, without hop-by-hop headers and those the worker sets itself. */
function requestHeaders(pairs: readonly (readonly [string, string])[]): [string, string][] {
  const listed = connectionTokens(pairs);
  const out: [string, string][] = [];
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name))
      throw new EgressError(`Egress refused: ${JSON.stringify(rawName)} is not a header name`, 'invalid');
    if (/[\r\n\0]/.test(value)) {
      throw new EgressError(`Egress refused: the value of header ${name} contains a line break or NUL`, 'invalid');
    }
    if (HOP_BY_HOP.has(name) || SET_BY_WORKER.has(name) || listed.has(name)) continue;
    out.push([name, value]);
  }
  return out;
}

function connectionTokens(pairs: readonly (readonly [string, string])[]): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of pairs) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

function responseHeaders(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  const listed = connectionTokens(pairs);
  return pairs.filter(([name]) => !HOP_BY_HOP.has(name) && !listed.has(name));
}

/** A lookup that answers only with the addresses the policy checked, so the connection cannot go anywhere else. */
function pinnedLookup(target: EgressTarget): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
    const addresses = target.addresses.filter((a) => wanted === undefined || a.family === wanted);
    const first = addresses[0];
    if (first === undefined) {
      const error: NodeJS.ErrnoException = new Error(`no checked IPv${wanted} address for ${target.hostname}`);
      error.code = 'ENOTFOUND';
      callback(error, '', 0);
    } else if (options.all) {
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    } else {
      callback(null, first.address, first.family);
    }
  };
}

function send(
  target: EgressTarget,
  method: string,
  pairs: readonly [string, string][],
  body: Uint8Array | undefined,
  signal: AbortSignal,
): Promise<{ request: http.ClientRequest; response: IncomingMessage }> {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of pairs) {
    const previous = headers[name];
    headers[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['content-length'] = '0';
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request({
      protocol: target.url.protocol,
      // The original name, so that Host and SNI carry it; the lookup decides where the connection goes.
      hostname: target.hostname,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      method,
      headers,
      lookup: pinnedLookup(target),
      // A connection of its own: never one pooled for another tenant or another resolution.
      agent: false,
      signal,
    });
    request.once('response', (response) => resolve({ request, response }));
    request.on('error', reject);
    request.end(body);
  });
}

function readBody(
  response: IncomingMessage,
  request: http.ClientRequest,
  where: string,
  method: string,
  limits: EgressLimits,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new EgressError(
      `Egress refused: the response from ${where} is over the limit of ${limits.maxResponseBytes} bytes ` +
        '(an operator can raise the egress response size limit)',
      'too-large',
    );
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      request.destroy();
      reject(error);
    };
    const declared = Number(response.headers['content-length']);
    if (method !== 'HEAD' && Number.isFinite(declared) && declared > limits.maxResponseBytes) {
      fail(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limits.maxResponseBytes) fail(tooLarge());
      else chunks.push(chunk);
    });
    response.once('end', () => {
      const all = Buffer.concat(chunks);
      resolve(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    });
    response.on('error', fail);
    response.once('close', () => {
      if (!response.complete) fail(new Error('the connection closed before the response was complete'));
    });
  });
}

/** Rejects with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
