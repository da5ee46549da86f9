import { afterAll, beforeAll } from 'vitest';
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
