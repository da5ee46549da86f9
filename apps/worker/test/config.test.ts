import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

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
