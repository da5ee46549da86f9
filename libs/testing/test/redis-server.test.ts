import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assertRedisInstalled, RedisServer, redisCommand } from '../src/index.js';
import { useRedisServer } from '../src/vitest.js';

describe('RedisServer', () => {
  const shared = useRedisServer();

  it('useRedisServer gives the file a private server that answers PING', async () => {
    expect(shared.server.running).toBe(true);
    expect(shared.server.url).toBe(`redis://127.0.0.1:${shared.server.port}`);
    expect(await redisCommand(shared.server.port, ['PING'])).toBe('PONG');
    expect(shared.server.port).not.toBe(6379);
  });

  it('starts servers on distinct free ports that do not share data', async () => {
    const [a, b] = await Promise.all([RedisServer.start(), RedisServer.start()]);
    try {
      expect(a.port).not.toBe(b.port);
      await redisCommand(a.port, ['SET', 'k', 'from-a']);
      expect(await redisCommand(a.port, ['GET', 'k'])).toBe('from-a');
      expect(await redisCommand(b.port, ['GET', 'k'])).toBeNull();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('can be killed like a crash and restarted on the same port; without persistence the data is gone', async () => {
    const server = await RedisServer.start();
    try {
      await redisCommand(server.port, ['SET', 'k', 'v']);
      const pid = server.pid;
      await server.kill();
      expect(server.running).toBe(false);
      await expect(redisCommand(server.port, ['PING'], 300)).rejects.toThrow();
      await server.restart();
      expect(server.pid).not.toBe(pid);
      expect(await redisCommand(server.port, ['PING'])).toBe('PONG');
      expect(await redisCommand(server.port, ['GET', 'k'])).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('with appendOnly, data survives a kill and a restart', async () => {
    const server = await RedisServer.start({ appendOnly: true, args: ['--appendfsync', 'always'] });
    try {
      await redisCommand(server.port, ['SET', 'durable', 'yes']);
      await server.kill();
      await server.restart();
      expect(await redisCommand(server.port, ['GET', 'durable'])).toBe('yes');
      await server.shutdown();
      await server.restart();
      expect(await redisCommand(server.port, ['GET', 'durable'])).toBe('yes');
    } finally {
      await server.stop();
    }
  });

  it('stop removes the data directory, and restarting a running server is refused', async () => {
    const server = await RedisServer.start();
    await expect(server.restart()).rejects.toThrow(/already running/);
    expect(existsSync(server.dir)).toBe(true);
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
  });

  it('says how to install Redis when the binary cannot be run', () => {
    expect(() => assertRedisInstalled('/nonexistent/redis-server')).toThrow(/Install Redis \(Debian\/Ubuntu/);
  });

  it('an error reply from Redis is a rejected promise with its message', async () => {
    await expect(redisCommand(shared.server.port, ['NOSUCHCOMMAND'])).rejects.toThrow(/unknown command/);
  });
});
