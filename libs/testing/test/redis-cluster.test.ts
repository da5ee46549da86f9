import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRedisCliInstalled, RedisCluster, redisCommand } from '../src/index.js';
import { useRedisCluster } from '../src/vitest.js';

describe('RedisCluster', () => {
  const shared = useRedisCluster();
  let client: Cluster;

  beforeAll(() => {
    client = new Cluster([...shared.cluster.nodes]);
  });
  afterAll(async () => {
    await client.quit();
  });

  it('useRedisCluster gives the file three masters on distinct ports that all say the cluster is ok', async () => {
    const ports = shared.cluster.nodes.map((node) => node.port);
    expect(new Set(ports).size).toBe(3);
    expect(shared.cluster.urls).toEqual(ports.map((port) => `redis://127.0.0.1:${port}`));
    for (const port of ports) {
      const info = String(await redisCommand(port, ['CLUSTER', 'INFO']));
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
      expect(info).toContain('cluster_known_nodes:3');
    }
  });

  it('spreads keys over every master and reads them back', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    for (const key of keys) await client.set(key, `value of ${key}`);
    for (const key of keys) expect(await client.get(key)).toBe(`value of ${key}`);
    for (const node of shared.cluster.nodes) expect(await redisCommand(node.port, ['DBSIZE'])).toBeGreaterThan(0);
  });

  it('keys that share a hash tag go together in one MULTI and one EVAL; keys that do not are refused', async () => {
    expect(await client.multi().set('{q}:a', '1').set('{q}:b', '2').exec()).toEqual([
      [null, 'OK'],
      [null, 'OK'],
    ]);
    const swap =
      "local a = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], redis.call('GET', KEYS[2])); redis.call('SET', KEYS[2], a); return a";
    expect(await client.eval(swap, 2, '{q}:a', '{q}:b')).toBe('1');
    expect(await client.mget('{q}:a', '{q}:b')).toEqual(['2', '1']);
    await expect(client.eval(swap, 2, 'a', 'b')).rejects.toThrow(/CROSSSLOT/);
  });

  it('starts further clusters of any size from 3 masters, and stop kills every node', async () => {
    await expect(RedisCluster.start({ masters: 2 })).rejects.toThrow(/at least 3 masters/);
    const cluster = await RedisCluster.start({ masters: 4 });
    const ports = cluster.nodes.map((node) => node.port);
    try {
      expect(ports).toHaveLength(4);
      expect(ports.filter((port) => shared.cluster.nodes.some((node) => node.port === port))).toEqual([]);
      expect(String(await redisCommand(ports[0] ?? 0, ['CLUSTER', 'INFO']))).toContain('cluster_known_nodes:4');
    } finally {
      await cluster.stop();
    }
    for (const port of ports) await expect(redisCommand(port, ['PING'], 300)).rejects.toThrow();
  });

  it('says how to install redis-cli when it cannot be run', () => {
    expect(() => assertRedisCliInstalled('/nonexistent/redis-cli')).toThrow(/apt-get install redis-tools/);
  });
});
