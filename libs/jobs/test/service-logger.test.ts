import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_URL, logRedisInUse } from '../src/index.js';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
  };
}

describe('logRedisInUse', () => {
  it('warns when REDIS_URL is not set, naming the Redis the service falls back to', () => {
    const { logger, lines } = capture();
    logRedisInUse(logger, {}, DEFAULT_REDIS_URL);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        redis: 'redis://127.0.0.1:6379',
        redisFromDefault: true,
        msg: expect.stringContaining('REDIS_URL is not set'),
      }),
    ]);
  });

  it('names the servers of REDIS_URL without their credentials', () => {
    const { logger, lines } = capture();
    const url = 'rediss://user:secret@redis-a.internal:6380/2, redis://:p%40ss@redis-b.internal:6379';
    logRedisInUse(logger, { REDIS_URL: url }, url);
    const [line] = lines();
    expect(line).toMatchObject({
      level: 30,
      redis: 'rediss://redis-a.internal:6380/2,redis://redis-b.internal:6379',
      redisFromDefault: false,
    });
    expect(JSON.stringify(line)).not.toMatch(/secret|p%40ss|user/);
  });
});
