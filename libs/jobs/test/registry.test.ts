import { useRedisServer } from '@beamline/testing/vitest';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_TENANT, FunctionRegistry, Keys, RegistryError, ReservedNameError } from '../src/index.js';

const redisServer = useRedisServer();
let redis: Redis;
let registry: FunctionRegistry;
const keys = new Keys('test');

beforeAll(async () => {
  redis = new Redis(redisServer.server.url);
  registry = new FunctionRegistry(redis, keys);
  await registry.deploy(BUILTIN_TENANT, 'echo', 'export default async (input) => input;', {}, { builtin: true });
});

afterAll(async () => {
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

  it("refuses a built-in's name to every tenant, so the built-in is what the name resolves to", async () => {
    expect(await registry.isBuiltin('echo')).toBe(true);
    const taken = registry.deploy('acme', 'echo', 'export default async () => "mine";');
    await expect(taken).rejects.toBeInstanceOf(ReservedNameError);
    await expect(taken).rejects.toBeInstanceOf(RegistryError);
    await expect(taken).rejects.toMatchObject({
      field: 'name',
      message: expect.stringContaining('"echo" is reserved'),
    });
    expect(await registry.get('acme', 'echo')).toBeUndefined();
    expect((await registry.list('acme')).map((f) => f.name)).not.toContain('echo');
    expect((await registry.resolve('acme', 'echo'))?.tenant).toBe(BUILTIN_TENANT);
    expect(await registry.isBuiltin('echo2')).toBe(false);
    expect((await registry.deploy('acme', 'echo2', 'export default async () => 2;')).created).toBe(true);
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
