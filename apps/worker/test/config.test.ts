import type { JobData } from '@beamline/jobs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { effectiveLimits, maxRunningOf } from '../src/job-runner.js';

describe('loadConfig', () => {
  it('has defaults for everything, so an empty environment starts a local node', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      metricsPort: 9464,
      drainDeadlineMs: 30_000,
      lockDurationMs: 30_000,
      prefix: 'beamline',
      logLevel: 'info',
    });
    expect(config.concurrency).toBeGreaterThanOrEqual(8);
    expect(config.nodeId).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      REDIS_URL: 'rediss://user:secret@redis.internal:6380/2',
      METRICS_PORT: '9000',
      WORKER_CONCURRENCY: '12',
      DRAIN_DEADLINE_MS: '5000',
      LOCK_DURATION_MS: '10000',
      STALLED_INTERVAL_MS: '15000',
      KEEP_FAILED_PER_TENANT: '500',
      NODE_ID: 'worker-7',
      LOG_LEVEL: 'debug',
      PRESTART_THREADS: '0',
    });
    expect(config).toMatchObject({
      redisUrl: 'rediss://user:secret@redis.internal:6380/2',
      metricsPort: 9000,
      concurrency: 12,
      drainDeadlineMs: 5000,
      lockDurationMs: 10_000,
      stalledIntervalMs: 15_000,
      keepFailedPerTenant: 500,
      nodeId: 'worker-7',
      logLevel: 'debug',
      prestartThreads: 0,
    });
  });

  it('names every wrong variable and the form it expects', () => {
    let error: unknown;
    try {
      loadConfig({ REDIS_URL: 'localhost:6379', METRICS_PORT: '70000', WORKER_CONCURRENCY: 'lots', NODE_ID: 'a.b' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('REDIS_URL must be a Redis URL such as redis://127.0.0.1:6379');
    expect(message).toContain('METRICS_PORT must be a whole number from 0 to 65535; got "70000"');
    expect(message).toContain('WORKER_CONCURRENCY must be a whole number from 1 to 10000; got "lots"');
    expect(message).toContain('NODE_ID must be 1–100 letters, digits');
    expect((error as ConfigError).problems).toHaveLength(4);
  });
});

describe('job limits, tenants and egress in the configuration', () => {
  it('defaults: 15 min timeout, 256 MB, three quarters of the concurrency per tenant, the platform services denied', () => {
    const config = loadConfig({
      WORKER_CONCURRENCY: '5',
      REDIS_URL: 'redis://redis.internal:6380',
      METRICS_HOST: '10.0.0.5',
    });
    expect(config).toMatchObject({
      defaultJobTimeoutMs: 900_000,
      defaultJobMemoryMb: 256,
      tenantMaxRunningPerNode: 3,
      sandboxRequireNamespaces: false,
      tenantLimits: {},
      apiUrl: undefined,
      egressAllow: {},
    });
    expect(config.egressDeny).toEqual(['redis.internal:6380', '10.0.0.5:9464']);
    expect(loadConfig({ WORKER_CONCURRENCY: '1' }).tenantMaxRunningPerNode).toBe(1);
    expect(loadConfig({ WORKER_CONCURRENCY: '8' }).tenantMaxRunningPerNode).toBe(6);
    expect(loadConfig({ SANDBOX_REQUIRE_NAMESPACES: 'true' }).sandboxRequireNamespaces).toBe(true);
    expect(() => loadConfig({ SANDBOX_REQUIRE_NAMESPACES: 'yes' })).toThrow(/SANDBOX_REQUIRE_NAMESPACES/);
  });

  it('reads the limits, TENANT_LIMITS, EGRESS_ALLOW, EGRESS_DENY and API_URL', () => {
    const config = loadConfig({
      DEFAULT_JOB_TIMEOUT_MS: '60000',
      DEFAULT_JOB_MEMORY_MB: '128',
      TENANT_MAX_RUNNING_PER_NODE: '2',
      TENANT_LIMITS: '{"acme": {"timeoutMs": 1000, "maxRunningPerNode": 7}, "beta": {}}',
      EGRESS_ALLOW: '{"acme": ["10.1.2.0/24", "db.internal:5432"]}',
      EGRESS_DENY: '169.254.169.254, vault.internal',
      API_URL: 'https://api.example.com:8443/v1',
      METRICS_PORT: '0',
    });
    expect(config).toMatchObject({
      defaultJobTimeoutMs: 60_000,
      defaultJobMemoryMb: 128,
      tenantMaxRunningPerNode: 2,
      tenantLimits: { acme: { timeoutMs: 1000, maxRunningPerNode: 7 }, beta: {} },
      egressAllow: { acme: ['10.1.2.0/24', 'db.internal:5432'] },
      apiUrl: 'https://api.example.com:8443/v1',
    });
    expect(config.egressDeny).toEqual(['127.0.0.1:6379', 'api.example.com', '169.254.169.254', 'vault.internal']);
  });

  it('names each wrong limit, tenant and egress entry', () => {
    let error: unknown;
    try {
      loadConfig({
        DEFAULT_JOB_TIMEOUT_MS: '0',
        DEFAULT_JOB_MEMORY_MB: '8',
        TENANT_MAX_RUNNING_PER_NODE: 'many',
        TENANT_LIMITS: '{"Acme": {}, "beta": {"timeoutMs": -1, "maxRunningPerNode": 1.5, "cpu": 1}, "gamma": 3}',
        EGRESS_ALLOW: '{"acme": ["10.0.0.0/99"]}',
        API_URL: 'ftp://x',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('DEFAULT_JOB_TIMEOUT_MS must be a whole number from 1 to 2147483647; got "0"');
    expect(message).toContain('DEFAULT_JOB_MEMORY_MB must be a whole number from 16 to 65536; got "8"');
    expect(message).toContain('TENANT_MAX_RUNNING_PER_NODE must be a whole number from 1 to 10000; got "many"');
    expect(message).toContain('TENANT_LIMITS names "Acme", which is not a tenant');
    expect(message).toContain('TENANT_LIMITS.beta.timeoutMs must be a whole number from 1 to 2147483647; got -1');
    expect(message).toContain('TENANT_LIMITS.beta.maxRunningPerNode must be a whole number from 1 to 10000; got 1.5');
    expect(message).toContain('TENANT_LIMITS.beta has an unknown field "cpu"');
    expect(message).toContain('TENANT_LIMITS.gamma must be an object');
    expect(message).toContain('EGRESS_ALLOW');
    expect(message).toContain('API_URL must be an http:// or https:// URL');
    expect((error as ConfigError).problems).toHaveLength(10);
    expect(() => loadConfig({ TENANT_LIMITS: '{nope' })).toThrow(/TENANT_LIMITS must be a JSON object such as/);
  });
});

describe('the limits of a run', () => {
  const policy = {
    defaultTimeoutMs: 900_000,
    defaultMemoryMb: 256,
    maxMemoryMb: 1024,
    tenantMaxRunningPerNode: 4,
    tenantLimits: { acme: { timeoutMs: 5000, maxRunningPerNode: 1 } },
  };
  const data = (tenant: string, limits: object) => ({ tenant, limits }) as unknown as JobData;

  it("the job's (or its function's) own limits, else the tenant's default timeout, else the platform's", () => {
    expect(effectiveLimits(data('zeta', {}), policy)).toEqual({ timeoutMs: 900_000, memoryMb: 256 });
    expect(effectiveLimits(data('acme', {}), policy)).toEqual({ timeoutMs: 5000, memoryMb: 256 });
    expect(effectiveLimits(data('acme', { timeoutMs: 60_000, memoryMb: 64, cpuMs: 10 }), policy)).toEqual({
      timeoutMs: 60_000,
      memoryMb: 64,
      cpuMs: 10,
    });
    expect(effectiveLimits(data('constructor', {}), policy)).toEqual({ timeoutMs: 900_000, memoryMb: 256 });
  });

  it('never more memory than the platform maximum, whatever the job asks', () => {
    expect(effectiveLimits(data('zeta', { memoryMb: 65_536 }), policy)).toMatchObject({ memoryMb: 1024 });
    expect(loadConfig({}).maxJobMemoryMb).toBe(1024);
    expect(loadConfig({ MAX_JOB_MEMORY_MB: '4096' }).maxJobMemoryMb).toBe(4096);
    expect(() => loadConfig({ MAX_JOB_MEMORY_MB: '8' })).toThrow(/MAX_JOB_MEMORY_MB/);
  });

  it("a tenant's own cap of running jobs per node, else the platform's", () => {
    expect(maxRunningOf('acme', policy)).toBe(1);
    expect(maxRunningOf('zeta', policy)).toBe(4);
    expect(maxRunningOf('__proto__', policy)).toBe(4);
  });
});
