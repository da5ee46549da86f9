import { afterAll, beforeAll } from 'vitest';
import { RedisCluster, type RedisClusterOptions } from './redis-cluster.js';
import { RedisServer, type RedisServerOptions } from './redis-server.js';

/**
 * Starts a private redis-server before the tests of the calling file and stops it after them.
 * Read `.server` inside tests (it is set once `beforeAll` has run).
 */
export function useRedisServer(options: RedisServerOptions = {}): { readonly server: RedisServer } {
  const handle: { server: RedisServer | undefined } = { server: undefined };
  beforeAll(async () => {
    handle.server = await RedisServer.start(options);
  });
  afterAll(async () => {
    await handle.server?.stop();
  });
  return {
    get server(): RedisServer {
      if (!handle.server) throw new Error('useRedisServer: the server is available inside tests, after beforeAll.');
      return handle.server;
    },
  };
}

/** Starting a cluster runs several servers and redis-cli; its own deadline is 20 s after the servers answer. */
const CLUSTER_START_TIMEOUT_MS = 60_000;

/**
 * Starts a private Redis Cluster before the tests of the calling file and stops it after them.
 * Read `.cluster` inside tests (it is set once `beforeAll` has run).
 */
export function useRedisCluster(options: RedisClusterOptions = {}): { readonly cluster: RedisCluster } {
  const handle: { cluster: RedisCluster | undefined } = { cluster: undefined };
  beforeAll(async () => {
    handle.cluster = await RedisCluster.start(options);
  }, CLUSTER_START_TIMEOUT_MS);
  afterAll(async () => {
    await handle.cluster?.stop();
  });
  return {
    get cluster(): RedisCluster {
      if (!handle.cluster) throw new Error('useRedisCluster: the cluster is available inside tests, after beforeAll.');
      return handle.cluster;
    },
  };
}
