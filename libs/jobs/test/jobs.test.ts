import { useRedisServer } from '@beamline/testing/vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_TENANT,
  ControlPublisher,
  FunctionRegistry,
  idempotentJobId,
  JobClient,
  JobSpecError,
  Keys,
  QUEUE_NAME,
  RegistryError,
} from '../src/index.js';

const redisServer = useRedisServer();
let redis: Redis;
let queue: Queue;
let registry: FunctionRegistry;
let client: JobClient;
const keys = new Keys('test');

beforeAll(async () => {
  redis = new Redis(redisServer.server.url);
  queue = new Queue(QUEUE_NAME, { connection: { url: redisServer.server.url }, prefix: 'test' });
  registry = new FunctionRegistry(redis, keys);
  client = new JobClient(queue, registry, redis, keys, new ControlPublisher(redis, keys));
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
});

describe('FunctionRegistry', () => {
  it('stores bundles by sha256, numbers versions, and does not make a version for an identical deploy', async () => {
    const v1 = await registry.deploy('acme', 'resize', 'export default async () => 1;', { timeoutMs: 1000 });
    const again = await registry.deploy('acme', 'resize', 'export default async () => 1;', { timeoutMs: 1000 });
    const v2 = await registry.deploy('acme', 'resize', 'export default async () => 2;');
    expect(v1).toMatchObject({ version: 1, created: true, defaults: { timeoutMs: 1000 } });
    expect(again).toMatchObject({ version: 1, created: false, sha256: v1.sha256 });
    expect(v2).toMatchObject({ version: 2, created: true });
    expect(await registry.bundle(v1.sha256)).toBe('export default async () => 1;');
    expect((await registry.versions('acme', 'resize')).map((f) => f.version)).toEqual([2, 1]);
    expect((await registry.resolve('acme', 'resize@1'))?.sha256).toBe(v1.sha256);
    expect((await registry.list('acme')).map((f) => [f.name, f.version])).toEqual([['resize', 2]]);
  });

  it("resolves a tenant's own function first, then the built-in one", async () => {
    expect((await registry.resolve('acme', 'echo'))?.tenant).toBe(BUILTIN_TENANT);
    await registry.deploy('acme', 'echo', 'export default async () => "mine";');
    expect((await registry.resolve('acme', 'echo'))?.tenant).toBe('acme');
    expect((await registry.resolve('other', 'echo'))?.tenant).toBe(BUILTIN_TENANT);
  });

  it('deletes a function and its versions but keeps the bundle for jobs already pinned to it', async () => {
    const deployed = await registry.deploy('acme', 'temporary', 'export default async () => 0;');
    expect(await registry.delete('acme', 'temporary')).toBe(true);
    expect(await registry.get('acme', 'temporary')).toBeUndefined();
    expect(await registry.delete('acme', 'temporary')).toBe(false);
    expect(await registry.bundle(deployed.sha256)).toBeDefined();
  });

  it('refuses bad deployments with an error naming the field', async () => {
    await expect(registry.deploy('acme', '9lives', 'x')).rejects.toMatchObject({ field: 'name' });
    await expect(registry.deploy('Acme Corp', 'ok', 'x')).rejects.toMatchObject({ field: 'tenant' });
    await expect(registry.deploy('acme', 'ok', '  ')).rejects.toMatchObject({ field: 'code' });
    await expect(registry.deploy(BUILTIN_TENANT, 'echo', 'export default async () => "pwned";')).rejects.toThrow(
      /reserved for the functions that ship with the worker/,
    );
    const bad = registry.deploy('acme', 'ok', 'x', { timeoutMs: -1, colour: 'red' });
    await expect(bad).rejects.toBeInstanceOf(RegistryError);
    await expect(bad).rejects.toThrow(/defaults\.timeoutMs/);
  });
});

describe('JobClient.submit', () => {
  it('pins the function version, merges defaults under the job, and maps priority to BullMQ', async () => {
    await registry.deploy('acme', 'limited', 'export default async () => 1;', {
      timeoutMs: 500,
      memoryMb: 64,
      priority: 'high',
    });
    const job = await client.submit({ function: 'limited', cpuMs: 100, timeoutMs: 900 }, 'acme');
    expect(job.data).toMatchObject({
      function: 'limited',
      version: 1,
      tenant: 'acme',
      functionTenant: 'acme',
      limits: { timeoutMs: 900, cpuMs: 100, memoryMb: 64 },
      priority: 'high',
      restart: 'transient',
    });
    expect(job.opts.priority).toBe(1);
    expect(job.opts.attempts).toBe(3);
    expect((await client.get(job.id as string))?.state).toBe('prioritized');
  });

  it('refuses bad submissions with an error naming the field', async () => {
    const attempt = (spec: object) => client.submit(spec as never, 'acme');
    await expect(attempt({ function: 'nope' })).rejects.toMatchObject({ field: 'function' });
    await expect(attempt({ function: 'echo', priority: 'urgent' })).rejects.toMatchObject({ field: 'priority' });
    await expect(attempt({ function: 'echo', backoff: { type: 'fixed', delayMs: -5 } })).rejects.toMatchObject({
      field: 'backoff.delayMs',
    });
    await expect(attempt({ function: 'echo', colour: 'red' })).rejects.toBeInstanceOf(JobSpecError);
    await expect(attempt({ function: 'echo@0' })).rejects.toThrow(/name@version/);
    await expect(attempt({ function: 'echo', tenant: 'someone-else' })).rejects.toBeInstanceOf(JobSpecError);
    await expect(client.submit({ function: 'echo' }, BUILTIN_TENANT)).rejects.toMatchObject({ field: 'tenant' });
    await expect(client.submit({ function: 'echo' }, 'Not A Tenant')).rejects.toMatchObject({ field: 'tenant' });
  });

  it('deduplicates by idempotency key per tenant', async () => {
    const first = await client.submit({ function: 'echo', input: 1, idempotencyKey: 'order-7' }, 'acme');
    const second = await client.submit({ function: 'echo', input: 2, idempotencyKey: 'order-7' }, 'acme');
    const otherTenant = await client.submit({ function: 'echo', input: 3, idempotencyKey: 'order-7' }, 'globex');
    expect(second.id).toBe(first.id);
    expect(first.id).toBe(idempotentJobId('acme', 'order-7'));
    expect(otherTenant.id).not.toBe(first.id);
    expect((await client.get(first.id as string))?.input).toBe(1);
  });

  it('cancels a job that has not started by removing it', async () => {
    const job = await client.submit({ function: 'echo', delayMs: 60_000 }, 'acme');
    expect(await client.cancel(job.id as string, 'api.0')).toBe('removed');
    expect(await client.get(job.id as string)).toBeUndefined();
    expect(await client.cancel('no-such-job', 'api.0')).toBe('not_found');
  });
});
