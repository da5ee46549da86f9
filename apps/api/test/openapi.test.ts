import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { chromiumPath } from '@beamline/testing';
import { useRedisServer } from '@beamline/testing/vitest';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';
import type { Json } from './helpers.js';

const KEY = 'acme-key-0123456789abcdef';
const redis = useRedisServer();
let api: RunningApi;
let document: Json;

beforeAll(async () => {
  api = await startApi(
    loadConfig({
      REDIS_URL: redis.server.url,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      BEAMLINE_API_KEYS: `${KEY}:acme`,
    }),
    pino({ level: 'silent' }),
  );
  document = await (await fetch(`${api.url}/openapi.json`)).json();
});

afterAll(async () => {
  await api?.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every operation of the document, with its path and method. */
function operations(): Array<{ path: string; method: string; operation: Json }> {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, operation: item[method] })),
  );
}

describe('the OpenAPI document generated from the routes', () => {
  it('documents every /v1 operation with an operationId, tags, a summary, and problem+json errors', () => {
    expect(document.openapi).toBe('3.1.0');
    const listed = operations();
    expect(listed.map(({ method, path }) => `${method.toUpperCase()} ${path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/jobs',
        'POST /v1/jobs/batch',
        'GET /v1/jobs/{id}/logs',
        'GET /v1/jobs/{id}/events',
        'PUT /v1/functions/{name}',
        'POST /v1/processes/{pid}/messages',
        'POST /v1/dead-letters/{id}/requeue',
      ]),
    );
    const ids = listed.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set(document.tags.map((tag: Json) => tag.name));
    for (const { path, method, operation } of listed) {
      const where = `${method} ${path}`;
      expect(operation.summary, where).toEqual(expect.any(String));
      expect(operation.tags.length, where).toBeGreaterThan(0);
      for (const tag of operation.tags) expect(tags.has(tag), where).toBe(true);
      for (const status of ['401', '503']) {
        expect(operation.responses[status]?.content?.['application/problem+json'], `${where} ${status}`).toEqual({
          schema: { $ref: '#/components/schemas/Problem' },
        });
      }
    }
    const submit = document.paths['/v1/jobs'].post;
    expect(Object.keys(submit.responses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '404', '409', '413', '415', '429', '503']),
    );
    expect(document.paths['/v1/nodes'].get.responses['403']).toBeDefined();
    expect(document.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('gives every path parameter the pattern the route validates it with', () => {
    for (const { path, method, operation } of operations()) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const parameters = (operation.parameters ?? []).filter((parameter: Json) => parameter.in === 'path');
      expect(parameters.map((parameter: Json) => parameter.name).sort(), `${method} ${path}`).toEqual(names.sort());
      for (const parameter of parameters) {
        expect(parameter.schema.pattern, `${method} ${path} ${parameter.name}`).toEqual(expect.any(String));
      }
    }
  });

  it('documents the schemas the requests are validated with', async () => {
    const submission = document.components.schemas.JobSubmission;
    expect(submission.additionalProperties).toBe(false);
    expect(submission.properties.priority.enum).toEqual(['max', 'high', 'normal', 'low']);
    expect(document.paths['/v1/jobs'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/JobSubmission',
    });
    const headers = { authorization: `Bearer ${KEY}` };
    // Each documented query bound is the one enforced: one past it is refused, naming the parameter.
    let bounds = 0;
    for (const { path, operation } of operations()) {
      for (const parameter of (operation.parameters ?? []).filter((p: Json) => p.in === 'query')) {
        if (parameter.schema.maximum === undefined) continue;
        const url = `${api.url}${path.replace('{id}', '1')}?${parameter.name}=${parameter.schema.maximum + 1}`;
        const response = await fetch(url, { headers });
        expect(response.status, url).toBe(400);
        expect(((await response.json()) as Json).errors).toEqual([
          { path: `query.${parameter.name}`, message: expect.any(String) },
        ]);
        bounds++;
      }
    }
    expect(bounds).toBeGreaterThanOrEqual(3);
    // An unknown field is refused, as `additionalProperties: false` says.
    const unknown = await fetch(`${api.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'echo', colour: 'red' }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as Json).errors).toEqual([{ path: 'colour', message: 'unknown field; remove it' }]);
  });

  it("passes Redocly's recommended lint rules with no error and no warning", async () => {
    const directory = await mkdtemp(join(tmpdir(), 'beamline-openapi-'));
    try {
      const documentFile = join(directory, 'openapi.json');
      const configFile = join(directory, 'redocly.yaml');
      await writeFile(documentFile, JSON.stringify(document));
      await writeFile(configFile, 'extends:\n  - recommended\n');
      const require = createRequire(import.meta.url);
      const cliPackage = require.resolve('@redocly/cli/package.json');
      const cli = join(dirname(cliPackage), (require(cliPackage) as { bin: { redocly: string } }).bin.redocly);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [cli, 'lint', documentFile, '--config', configFile, '--format', 'json'],
        { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
      );
      const report = JSON.parse(stdout) as { totals: Json; problems: Array<{ ruleId: string; message: string }> };
      expect(report.problems.map((problem) => `${problem.ruleId}: ${problem.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the API reference at /docs', () => {
  it('is served with its script by the API itself', async () => {
    const page = await fetch(`${api.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((match) => match[1] as string);
    expect(scripts).toEqual(['/docs/scalar.js']);
    expect(html).toContain('"url": "/openapi.json"');
    const script = await fetch(new URL(scripts[0] as string, api.url));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(await script.text()).toContain('createApiReference');
  });

  it('renders its groups and the operations of the first in a real Chromium, which asks no other host for anything', async () => {
    const browser = await chromium.launch({ executablePath: chromiumPath() });
    try {
      const page = await browser.newPage();
      const elsewhere: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.protocol.startsWith('http') && url.origin !== new URL(api.url).origin) elsewhere.push(request.url());
      });
      await page.goto(`${api.url}/docs`);
      await page.getByText(document.info.title).first().waitFor({ timeout: 30_000 });
      const tags = [...new Set(operations().flatMap(({ operation }) => operation.tags as string[]))];
      // The first group opens with its operations; the others are listed, collapsed.
      const firstGroup = operations().filter(({ operation }) => operation.tags[0] === 'Functions');
      await page.getByText(firstGroup[0]?.operation.summary).first().waitFor({ timeout: 30_000 });
      const text = await page.locator('body').innerText();
      for (const tag of tags) expect(text, tag).toContain(tag);
      for (const { operation } of firstGroup) expect(text, operation.summary).toContain(operation.summary);
      expect(elsewhere).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
