import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The environment variables a config module reads (names quoted in its source). */
function variablesOf(configSource: string): Set<string> {
  return new Set(
    [...configSource.matchAll(/'([A-Z][A-Z0-9_]{2,})'|\b([A-Z][A-Z0-9_]{2,}): \{ schema/g)].map(
      (m) => (m[1] ?? m[2]) as string,
    ),
  );
}
const apiVariables = new Set([...variablesOf(read('apps/api/src/config.ts')), 'BEAMLINE_API_KEYS']);
const workerVariables = variablesOf(read('apps/worker/src/config.ts'));
const DEFAULT_PORTS = { api: 3000, worker: 9464 };

function dockerfile(app: 'api' | 'worker') {
  const text = read(`apps/${app}/Dockerfile`);
  return {
    stages: [...text.matchAll(/^FROM /gm)].length,
    user: /^USER (\S+)/m.exec(text)?.[1],
    exposed: Number(/^EXPOSE (\d+)/m.exec(text)?.[1]),
    command: JSON.parse(/^CMD (\[.*\])$/m.exec(text)?.[1] ?? '[]') as string[],
    healthPath: /127\.0\.0\.1:\d+(\/\w+)/.exec(text)?.[1],
  };
}

describe('Dockerfiles', () => {
  it.each(['api', 'worker'] as const)(
    '%s: multi-stage, non-root, exposes the default port, runs an entry point that exists',
    (app) => {
      const file = dockerfile(app);
      expect(file.stages).toBeGreaterThanOrEqual(2);
      expect(file.user).toBe('node');
      expect(file.exposed).toBe(DEFAULT_PORTS[app]);
      expect(file.command).toEqual(['node', `apps/${app}/dist/main.js`]);
      expect(existsSync(join(root, `apps/${app}/src/main.ts`))).toBe(true);
      expect(['/healthz', '/readyz']).toContain(file.healthPath);
    },
  );
});

describe('compose', () => {
  const compose = parse(read('infra/compose.yaml')) as {
    services: Record<
      string,
      {
        build?: { dockerfile: string; context: string };
        environment?: Record<string, string>;
        ports?: string[];
        volumes?: string[];
        command?: string[];
      }
    >;
  };
  const prometheus = parse(read('infra/prometheus/prometheus.yml')) as {
    scrape_configs: Array<{
      job_name: string;
      static_configs?: Array<{ targets: string[] }>;
      dns_sd_configs?: Array<{ names: string[]; port: number }>;
    }>;
  };

  it('has Redis with append-only persistence, the API, scalable workers, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'grafana', 'prometheus', 'redis', 'worker']);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(compose.services.worker?.ports).toBeUndefined();
  });

  it('builds the apps from their Dockerfiles and sets only variables the code reads', () => {
    for (const [app, variables] of [
      ['api', apiVariables],
      ['worker', workerVariables],
    ] as const) {
      const service = compose.services[app];
      expect(existsSync(join(root, 'infra', service?.build?.context ?? '', service?.build?.dockerfile ?? ''))).toBe(
        true,
      );
      for (const name of Object.keys(service?.environment ?? {}))
        expect(variables.has(name), `${app}: ${name}`).toBe(true);
    }
    expect(compose.services.api?.ports).toEqual([`${DEFAULT_PORTS.api}:${DEFAULT_PORTS.api}`]);
    expect(compose.services.worker?.environment?.METRICS_PORT).toBe(String(DEFAULT_PORTS.worker));
  });

  it('Prometheus scrapes the API port and every worker replica on the metrics port', () => {
    const api = prometheus.scrape_configs.find((c) => c.job_name === 'beamline-api');
    const worker = prometheus.scrape_configs.find((c) => c.job_name === 'beamline-worker');
    expect(api?.static_configs?.[0]?.targets).toEqual([`api:${DEFAULT_PORTS.api}`]);
    expect(worker?.dns_sd_configs?.[0]).toMatchObject({ names: ['worker'], port: DEFAULT_PORTS.worker });
  });

  it('mounts the provisioning and dashboards that exist, and the rules Prometheus loads', () => {
    const mounts = [...(compose.services.grafana?.volumes ?? []), ...(compose.services.prometheus?.volumes ?? [])];
    for (const mount of mounts) {
      const source = mount.split(':')[0] as string;
      expect(existsSync(join(root, 'infra', source)), source).toBe(true);
    }
    const provisioning = parse(read('infra/grafana/provisioning/dashboards/beamline.yaml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    const dashboardsMount = compose.services.grafana?.volumes?.find((v) => v.startsWith('./grafana/dashboards'));
    expect(dashboardsMount?.split(':')[1]).toBe(provisioning.providers[0]?.options.path);
    const datasource = parse(read('infra/grafana/provisioning/datasources/prometheus.yaml')) as {
      datasources: Array<{ uid: string }>;
    };
    for (const file of readdirSync(join(root, 'infra/grafana/dashboards'))) {
      const dashboard = JSON.parse(read(`infra/grafana/dashboards/${file}`)) as {
        panels: Array<{ datasource: { uid: string } }>;
      };
      for (const panel of dashboard.panels) expect(panel.datasource.uid).toBe(datasource.datasources[0]?.uid);
    }
  });
});

describe('Kubernetes manifests', () => {
  const documents = readdirSync(join(root, 'infra/k8s'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`infra/k8s/${f}`)).map((d) => d.toJS() as Record<string, any>));
  const byKind = (kind: string, name: string) => documents.find((d) => d.kind === kind && d.metadata?.name === name);

  it.each(['api', 'worker'] as const)(
    '%s: probes on /healthz and /readyz at its port, limits, non-root with a read-only root filesystem',
    (app) => {
      const deployment = byKind('Deployment', app);
      const spec = deployment?.spec.template.spec;
      const container = spec.containers[0];
      const port = DEFAULT_PORTS[app];
      expect(container.image).toMatch(new RegExp(`^beamline/${app}:`));
      expect(container.ports).toEqual([{ name: 'metrics', containerPort: port }]);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port });
      expect(container.resources.requests).toBeDefined();
      expect(container.resources.limits).toBeDefined();
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      const variables = app === 'api' ? apiVariables : workerVariables;
      for (const env of container.env) expect(variables.has(env.name), `${app}: ${env.name}`).toBe(true);
      expect(deployment?.spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('beamline');
    },
  );

  it('workers get a grace period above their drain deadline, a disruption budget, and KEDA scaling to zero', () => {
    const worker = byKind('Deployment', 'worker');
    const container = worker?.spec.template.spec.containers[0];
    const drainMs = Number(container.env.find((e: { name: string }) => e.name === 'DRAIN_DEADLINE_MS').value);
    expect(worker?.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
    expect(byKind('PodDisruptionBudget', 'worker')?.spec.selector.matchLabels).toEqual(
      worker?.spec.selector.matchLabels,
    );
    const scaled = byKind('ScaledObject', 'worker');
    expect(scaled?.spec).toMatchObject({ scaleTargetRef: { name: 'worker' }, minReplicaCount: 0 });
    const queries = scaled?.spec.triggers.map((t: { metadata: { query: string } }) => t.metadata.query) as string[];
    const documented = read('docs/metrics.md');
    for (const query of queries) {
      for (const metric of query.match(/beamline_[a-z_]+/g) ?? [])
        expect(documented, metric).toContain(`\`${metric}\``);
    }
    expect(queries.join(' ')).toContain('prioritized');
  });

  it('every manifest parses and names the beamline namespace', () => {
    expect(documents.length).toBeGreaterThanOrEqual(9);
    for (const document of documents) {
      if (document.kind !== 'Namespace')
        expect(document.metadata.namespace, `${document.kind}/${document.metadata.name}`).toBe('beamline');
    }
  });
});
