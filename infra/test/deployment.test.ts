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

// Workers run hostile tenant code: whatever a worker process can read, an escape from the job sandbox
// could read too. So no worker may receive the API keys, in any way a manifest can hand them over.
const API_KEYS = 'BEAMLINE_API_KEYS';
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of any shape, read field by field
type Manifest = Record<string, any>;

/** The pod spec of a workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). */
function podSpecOf(document: Manifest): Manifest | undefined {
  if (document.kind === 'Pod') return document.spec;
  if (document.kind === 'CronJob') return document.spec?.jobTemplate?.spec?.template?.spec;
  return document.spec?.template?.spec;
}

/** The keys a Secret or ConfigMap defined among the manifests holds, or undefined when it is not defined there. */
function keysOf(documents: Manifest[], kind: 'Secret' | 'ConfigMap', name: string): Set<string> | undefined {
  const found = documents.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) return undefined;
  return new Set([
    ...Object.keys(found.data ?? {}),
    ...Object.keys(found.stringData ?? {}),
    ...Object.keys(found.binaryData ?? {}),
  ]);
}

/** Every way a pod spec's containers receive the API keys, as readable findings (empty: none). */
function apiKeyRoutes(spec: Manifest, documents: Manifest[]): string[] {
  const routes: string[] = [];
  const holds = (kind: 'Secret' | 'ConfigMap', name: string, via: string) => {
    const keys = keysOf(documents, kind, name);
    // A source not defined here could hold anything: it counts as a route until proven otherwise.
    if (keys === undefined) routes.push(`${via}: ${kind} ${name} is not among the manifests`);
    else if (keys.has(API_KEYS)) routes.push(`${via}: ${kind} ${name} holds ${API_KEYS}`);
  };
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const container of containers) {
    const at = `container ${container.name}`;
    for (const env of container.env ?? []) {
      if (env.name === API_KEYS) routes.push(`${at}: env ${API_KEYS}`);
      const secretKey = env.valueFrom?.secretKeyRef;
      if (secretKey?.key === API_KEYS) routes.push(`${at}: env ${env.name} from secret key ${API_KEYS}`);
      const configKey = env.valueFrom?.configMapKeyRef;
      if (configKey?.key === API_KEYS) routes.push(`${at}: env ${env.name} from config map key ${API_KEYS}`);
    }
    for (const source of container.envFrom ?? []) {
      if (source.secretRef) holds('Secret', source.secretRef.name, `${at}: envFrom`);
      if (source.configMapRef) holds('ConfigMap', source.configMapRef.name, `${at}: envFrom`);
    }
  }
  for (const volume of spec.volumes ?? []) {
    const at = `volume ${volume.name}`;
    if (volume.secret) holds('Secret', volume.secret.secretName, at);
    if (volume.configMap) holds('ConfigMap', volume.configMap.name, at);
    for (const source of volume.projected?.sources ?? []) {
      if (source.secret) holds('Secret', source.secret.name, at);
      if (source.configMap) holds('ConfigMap', source.configMap.name, at);
    }
  }
  return routes;
}

/** Whether a pod spec's containers get the API keys by name (the API must). */
function receivesApiKeys(spec: Manifest, documents: Manifest[]): boolean {
  return (spec.containers ?? []).some(
    (container: Manifest) =>
      (container.env ?? []).some(
        (env: Manifest) =>
          env.name === API_KEYS &&
          (env.value !== undefined ||
            (env.valueFrom?.secretKeyRef?.key === API_KEYS &&
              keysOf(documents, 'Secret', env.valueFrom.secretKeyRef.name)?.has(API_KEYS))),
      ) ||
      (container.envFrom ?? []).some(
        (source: Manifest) =>
          !source.prefix && source.secretRef && keysOf(documents, 'Secret', source.secretRef.name)?.has(API_KEYS),
      ),
  );
}

type ComposeService = {
  image?: string;
  build?: { dockerfile?: string };
  environment?: Record<string, unknown> | string[];
  env_file?: string | Array<string | { path: string }>;
  secrets?: unknown[];
};

/** The variable names a compose service's environment sets (map or list form). */
function composeVariables(service: ComposeService): string[] {
  const environment = service.environment ?? {};
  return Array.isArray(environment)
    ? environment.map((entry) => entry.split('=')[0] as string)
    : Object.keys(environment);
}

/** Every way a compose service receives the API keys (empty: none). env_file and secrets always count: compose reads them at deploy time. */
function composeApiKeyRoutes(service: ComposeService): string[] {
  const routes: string[] = [];
  if (composeVariables(service).includes(API_KEYS)) routes.push(`environment: ${API_KEYS}`);
  if (service.env_file !== undefined) routes.push(`env_file: ${JSON.stringify(service.env_file)}`);
  if (service.secrets !== undefined) routes.push(`secrets: ${JSON.stringify(service.secrets)}`);
  return routes;
}

describe('API keys never reach a worker', () => {
  const documents = readdirSync(join(root, 'infra/k8s'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`infra/k8s/${f}`)).map((d) => d.toJS() as Manifest));
  const workloads = documents.filter((d) => podSpecOf(d) !== undefined);
  const isWorker = (d: Manifest) =>
    (podSpecOf(d)?.containers ?? []).some((c: Manifest) => String(c.image).startsWith('beamline/worker')) ||
    d.spec?.template?.metadata?.labels?.['app.kubernetes.io/component'] === 'worker';
  const compose = parse(read('infra/compose.yaml')) as { services: Record<string, ComposeService> };
  const composeWorkers = Object.entries(compose.services).filter(
    ([name, service]) =>
      name.startsWith('worker') ||
      service.image?.startsWith('beamline/worker') ||
      service.build?.dockerfile === 'apps/worker/Dockerfile',
  );

  it('Kubernetes: no worker pod gets them through env, a secret or config map (envFrom, key reference) or a volume', () => {
    const workers = workloads.filter(isWorker);
    expect(workers.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Deployment/worker']);
    for (const worker of workers) expect(apiKeyRoutes(podSpecOf(worker) as Manifest, documents)).toEqual([]);
  });

  it('Kubernetes: the API still gets them, and they live in a secret of their own', () => {
    const api = byName(workloads, 'Deployment', 'api');
    expect(receivesApiKeys(podSpecOf(api) as Manifest, documents)).toBe(true);
    const holders = documents.filter(
      (d) => d.kind === 'Secret' && keysOf(documents, 'Secret', d.metadata.name)?.has(API_KEYS),
    );
    expect(holders.map((d) => d.metadata.name)).toEqual(['beamline-api']);
    expect([...(keysOf(documents, 'Secret', 'beamline-api') ?? [])]).toEqual([API_KEYS]);
  });

  it('Kubernetes: the workers get their Redis URL and no service account token', () => {
    const spec = podSpecOf(byName(workloads, 'Deployment', 'worker')) as Manifest;
    const redis = spec.containers[0].env.find((e: Manifest) => e.name === 'REDIS_URL');
    expect(redis.valueFrom.secretKeyRef.key).toBe('REDIS_URL');
    expect(keysOf(documents, 'Secret', redis.valueFrom.secretKeyRef.name)?.has('REDIS_URL')).toBe(true);
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it('Kubernetes: the worker may create user namespaces for the job sandbox and stays unprivileged otherwise', () => {
    const spec = podSpecOf(byName(workloads, 'Deployment', 'worker')) as Manifest;
    const container = spec.containers[0];
    // RuntimeDefault (and an unset profile on kubelets with --seccomp-default) refuses unshare(2).
    const seccomp = container.securityContext.seccompProfile ?? spec.securityContext.seccompProfile;
    expect(['Unconfined', 'Localhost']).toContain(seccomp?.type);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).not.toBe(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.securityContext.capabilities.add).toBeUndefined();
    expect(container.securityContext.privileged).toBeFalsy();
    expect(spec.hostPID || spec.hostNetwork || spec.hostIPC).toBeFalsy();
  });

  it('compose: no worker service gets them (environment, env_file or secrets); the API does', () => {
    expect(composeWorkers.map(([name]) => name)).toEqual(['worker']);
    for (const [, service] of composeWorkers) expect(composeApiKeyRoutes(service)).toEqual([]);
    expect(composeVariables(compose.services.api as ComposeService)).toContain(API_KEYS);
    const worker = compose.services.worker as ComposeService & { security_opt?: string[]; cap_drop?: string[] };
    expect(worker.security_opt).toContain('seccomp=unconfined');
    expect(worker.cap_drop).toEqual(['ALL']);
  });

  it('the checks catch every route (the manifests of before, and each other way in)', () => {
    const shared: Manifest = {
      kind: 'Secret',
      metadata: { name: 'beamline' },
      stringData: { REDIS_URL: 'redis://redis:6379', [API_KEYS]: 'k:default' },
    };
    const pod = (container: Manifest, volumes: Manifest[] = []) => ({
      containers: [{ name: 'worker', ...container }],
      volumes,
    });
    expect(apiKeyRoutes(pod({ envFrom: [{ secretRef: { name: 'beamline' } }] }), [shared])).toEqual([
      `container worker: envFrom: Secret beamline holds ${API_KEYS}`,
    ]);
    expect(apiKeyRoutes(pod({ envFrom: [{ prefix: 'X_', secretRef: { name: 'beamline' } }] }), [shared])).toHaveLength(
      1,
    );
    expect(apiKeyRoutes(pod({ envFrom: [{ secretRef: { name: 'elsewhere' } }] }), [shared])).toHaveLength(1);
    expect(apiKeyRoutes(pod({ env: [{ name: API_KEYS, value: 'k:default' }] }), [])).toHaveLength(1);
    expect(
      apiKeyRoutes(pod({ env: [{ name: 'KEYS', valueFrom: { secretKeyRef: { name: 'beamline', key: API_KEYS } } }] }), [
        shared,
      ]),
    ).toHaveLength(1);
    expect(apiKeyRoutes(pod({}, [{ name: 'keys', secret: { secretName: 'beamline' } }]), [shared])).toHaveLength(1);
    expect(
      apiKeyRoutes(pod({}, [{ name: 'keys', projected: { sources: [{ secret: { name: 'beamline' } }] } }]), [shared]),
    ).toHaveLength(1);
    expect(apiKeyRoutes(pod({ env: [{ name: 'REDIS_URL', value: 'redis://r' }] }), [shared])).toEqual([]);
    expect(receivesApiKeys(pod({ envFrom: [{ secretRef: { name: 'beamline' } }] }), [shared])).toBe(true);
    expect(composeApiKeyRoutes({ environment: [`${API_KEYS}=k:default`] })).toHaveLength(1);
    expect(composeApiKeyRoutes({ environment: { [API_KEYS]: 'k:default' } })).toHaveLength(1);
    expect(composeApiKeyRoutes({ env_file: '.env' })).toHaveLength(1);
    expect(composeApiKeyRoutes({ env_file: [{ path: 'worker.env' }] })).toHaveLength(1);
    expect(composeApiKeyRoutes({ environment: { REDIS_URL: 'redis://redis:6379' } })).toEqual([]);
  });
});

function byName(documents: Manifest[], kind: string, name: string): Manifest {
  const found = documents.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in infra/k8s`);
  return found;
}
