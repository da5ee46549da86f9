import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { useRedisServer } from '@beamline/testing/vitest';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';

const KEY = 'acme-key-0123456789abcdef';
const redis = useRedisServer();
const lines: { level: number; msg: string }[] = [];
let api: RunningApi;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  api = await startApi(
    loadConfig({
      REDIS_URL: redis.server.url,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      BEAMLINE_API_KEYS: `${KEY}:acme`,
    }),
    pino({ level: 'debug' }, sink),
  );
});

afterAll(async () => {
  await api?.close();
});

/** Sends the head of a request and part of its body, then drops the connection. */
async function abandonUpload(method: string, path: string, contentType: string, partialBody: string): Promise<void> {
  const { hostname, port } = new URL(api.url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `${method} ${path} HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${KEY}\r\n` +
      `content-type: ${contentType}\r\ncontent-length: 100000\r\n\r\n${partialBody}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
}

async function metricsText(): Promise<string> {
  return (await fetch(`${api.url}/metrics`)).text();
}

async function closedCount(route: string, method: string): Promise<number> {
  const match = new RegExp(
    `beamline_http_client_closed_total\\{route="${route.replaceAll('/', '\\/')}",method="${method}"\\} (\\d+)`,
  ).exec(await metricsText());
  return Number(match?.[1] ?? 0);
}

describe('clients that disconnect mid-upload', () => {
  it('are counted apart, never as a 500 nor logged as errors', async () => {
    await abandonUpload('POST', '/v1/jobs', 'application/json', '{"function":"echo","input":"');
    await abandonUpload('PUT', '/v1/functions/half', 'application/javascript', 'export default async () => ');
    const deadline = Date.now() + 10_000;
    while ((await closedCount('/v1/jobs', 'POST')) < 1 || (await closedCount('/v1/functions/:name', 'PUT')) < 1) {
      if (Date.now() > deadline) throw new Error(`no client disconnect counted:\n${await metricsText()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const metrics = await metricsText();
    expect(metrics).not.toMatch(/beamline_http_request_duration_seconds_count\{[^}]*status="5\d\d"/);
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    expect(lines.some((line) => line.msg === 'client closed the request')).toBe(true);
    // The API still answers whole requests.
    const health = await fetch(`${api.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
