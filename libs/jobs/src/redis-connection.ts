import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from './store/scripts.js';

/** Where Redis is: one server, or the seed nodes of a Redis Cluster. */
export interface RedisTarget {
  readonly urls: readonly string[];
  readonly cluster: boolean;
}

/** Connection options that apply to one server and to each node of a cluster alike. */
export interface ConnectionOptions {
  readonly maxRetriesPerRequest?: number | null;
  readonly enableOfflineQueue?: boolean;
  readonly enableAutoPipelining?: boolean;
}

/**
 * A connection to `target`: ioredis' Redis for one server, its Cluster for a cluster (every key
 * Beamline uses carries one hash tag, so every command and script reaches one node).
 */
export function connectRedis(target: RedisTarget, options: ConnectionOptions = {}): RedisClient {
  const [first] = target.urls;
  if (first === undefined) throw new Error('connectRedis needs at least one Redis URL');
  if (!target.cluster) return new Redis(first, { ...options });
  const seed = new URL(first);
  const redisOptions: RedisOptions = {
    ...(options.maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest: options.maxRetriesPerRequest }),
    ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
    ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
    ...(seed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const nodes = target.urls.map((url) => {
    const parsed = new URL(url);
    return { host: parsed.hostname, port: Number(parsed.port || 6379) };
  });
  return new Cluster(nodes, {
    redisOptions,
    ...(options.enableOfflineQueue === undefined ? {} : { enableOfflineQueue: options.enableOfflineQueue }),
    ...(options.enableAutoPipelining === undefined ? {} : { enableAutoPipelining: options.enableAutoPipelining }),
  });
}

/** REDIS_URL as a target: a comma-separated list of seed URLs when REDIS_CLUSTER is true. */
export function redisTarget(url: string, cluster: boolean): RedisTarget {
  return { urls: cluster ? url.split(',').map((u) => u.trim()) : [url], cluster };
}
