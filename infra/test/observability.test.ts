import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig as apiConfig, type RunningApi, startApi } from '@beamline/api';
import { freePort } from '@beamline/testing';
import { useRedisServer } from '@beamline/testing/vitest';
import { WorkerNode, loadConfig as workerConfig } from '@beamline/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS } from '../src/dashboards.js';

const infra = fileURLToPath(new URL('..', import.meta.url));
const KEY = 'observability-key-0123456789';
const redis = useRedisServer();
let api: RunningApi;
let workers: WorkerNode[] = [];
let prometheus: ChildProcess;
let prometheusUrl = '';
let dir = '';

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

/** Grafana's variables as Prometheus sees them with "All" selected. */
const concrete = (expr: string) =>
  expr.replaceAll('$node', '.*').replaceAll('$function', '.*').replaceAll('$__rate_interval', '1m');

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  const silent = pino({ level: 'silent' });
  for (const id of ['obs-a', 'obs-b']) {
    workers.push(
      await WorkerNode.start(
        workerConfig({
          REDIS_URL: redis.server.url,
          METRICS_PORT: '0',
          METRICS_HOST: '127.0.0.1',
          NODE_ID: id,
          LOG_LEVEL: 'silent',
          WORKER_CONCURRENCY: '8',
        }),
        silent,
      ),
    );
  }
  api = await startApi(
    apiConfig({
      REDIS_URL: redis.server.url,
      PORT: '0',
      HOST: '127.0.0.1',
      BEAMLINE_API_KEYS: `${KEY}:acme`,
      LOG_LEVEL: 'silent',
    }),
    silent,
  );
  dir = mkdtempSync(join(tmpdir(), 'beamline-prometheus-'));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(infra, 'prometheus/rules/beamline-alerts.yml')],
      scrape_configs: [
        { job_name: 'beamline-api', static_configs: [{ targets: [new URL(api.url).host] }] },
        { job_name: 'beamline-worker', static_configs: [{ targets: workers.map((w) => `127.0.0.1:${w.httpPort}`) }] },
      ],
    }),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  await until(async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.status === 200, 30_000);
}, 90_000);

afterAll(async () => {
  prometheus?.kill('SIGKILL');
  await api?.close();
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dashboards and alerts against a real Prometheus scraping the API and two worker nodes', () => {
  it('every panel query returns data and every alert rule parses, after a mixed load', async () => {
    // A mixed load: completions at every priority, failures with restarts, limits, a cancel, bad requests.
    const submitted: string[] = [];
    const submit = async (spec: object) => {
      const response = await call('POST', '/v1/jobs', spec);
      expect(response.status).toBe(202);
      submitted.push(response.body.id);
      return response.body.id as string;
    };
    for (const priority of ['max', 'high', 'normal', 'low']) {
      await submit({ function: 'cpu', input: { ms: 150 }, priority });
      await submit({ function: 'echo', input: priority, priority });
    }
    await submit({ function: 'sleep', input: { ms: 50 } });
    await submit({ function: 'fail', attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
    await submit({ function: 'loop', timeoutMs: 100, attempts: 1 });
    await submit({ function: 'allocate', memoryMb: 32, attempts: 1 });
    const loop = await submit({ function: 'loop', attempts: 1 });
    await until(async () => (await call('GET', `/v1/jobs/${loop}`)).body.state === 'running', 10_000);
    expect((await call('DELETE', `/v1/jobs/${loop}`)).status).toBe(202);
    expect((await call('POST', '/v1/jobs', { function: 'echo', priority: 'urgent' })).status).toBe(400);
    expect((await call('GET', '/v1/jobs/404404')).status).toBe(404);
    for (const id of submitted) expect((await call('GET', `/v1/jobs/${id}/wait?timeoutMs=20000`)).status).toBe(200);
    // Two more scrapes after the last event, so every rate() has samples on both sides.
    await until(async () => ((await query('up{job=~"beamline-.*"} == 1')).data?.result.length ?? 0) === 3, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 4000));

    const report: string[] = [];
    const empty: string[] = [];
    for (const [name, dashboard] of Object.entries(DASHBOARDS)) {
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const result = await query(concrete(target.expr));
          expect(result.status, `${name} / ${panel.title}: ${result.error}`).toBe('success');
          const series = result.data?.result.length ?? 0;
          report.push(`${name} / ${panel.title} [${target.legendFormat}]: ${series} series`);
          if (series === 0) empty.push(`${name} / ${panel.title}: ${target.expr}`);
        }
      }
      for (const variable of dashboard.templating.list) {
        const metric = /label_values\(([^,]+),/.exec(variable.definition)?.[1] as string;
        expect(((await query(metric)).data?.result.length ?? 0) > 0, variable.definition).toBe(true);
      }
    }
    console.info(report.join('\n'));
    expect(empty).toEqual([]);

    const rules = parse(
      (await import('node:fs')).readFileSync(join(infra, 'prometheus/rules/beamline-alerts.yml'), 'utf8'),
    ) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      expect((await query(rule.expr)).status, rule.alert).toBe('success');
    }
    const loaded = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ health: string; name: string }> }> };
    };
    const health = loaded.data.groups.flatMap((g) => g.rules.map((r) => [r.name, r.health]));
    expect(health.length).toBe(8);
    for (const [name, state] of health) expect(state, name).not.toBe('err');
  });

  it('promtool accepts the Prometheus configurations and the rules', () => {
    for (const args of [
      ['check', 'rules', join(infra, 'prometheus/rules/beamline-alerts.yml')],
      ['check', 'config', '--syntax-only', join(infra, 'prometheus/prometheus.yml')],
    ]) {
      const result = spawnSync('promtool', args, { encoding: 'utf8' });
      expect(result.status, `${args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it('the Kubernetes configuration is valid, with pod discovery (checked apart: Debian builds Prometheus without it)', async () => {
    const { readFileSync } = await import('node:fs');
    const config = parse(readFileSync(join(infra, 'prometheus/prometheus-kubernetes.yml'), 'utf8')) as {
      scrape_configs: Array<Record<string, unknown> & { kubernetes_sd_configs?: Array<{ role: string }> }>;
    };
    expect(config.scrape_configs[0]?.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const withoutSd = {
      ...config,
      scrape_configs: config.scrape_configs.map(({ kubernetes_sd_configs: _sd, ...rest }) => ({
        ...rest,
        static_configs: [{ targets: [] }],
      })),
    };
    const file = join(dir, 'kubernetes-without-sd.yml');
    writeFileSync(file, JSON.stringify(withoutSd));
    const result = spawnSync('promtool', ['check', 'config', '--syntax-only', file], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('the committed dashboards are the generated ones', async () => {
    const { readFileSync } = await import('node:fs');
    for (const [name, dashboard] of Object.entries(DASHBOARDS)) {
      const committed = JSON.parse(readFileSync(join(infra, `grafana/dashboards/${name}.json`), 'utf8'));
      expect(committed, `${name}.json is stale: run npm run generate -w @beamline/infra`).toEqual(
        JSON.parse(JSON.stringify(dashboard)),
      );
    }
  });
});
