import { type Logger, type LoggerOptions, pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { z } from 'zod';
import { describeRedis } from './env.js';

/** LOG_FORMAT: JSON lines for machines, or pino-pretty's lines for people. */
export const logFormat = z.enum(['json', 'pretty'], { message: 'json or pretty' });
export type LogFormat = z.infer<typeof logFormat>;

/** The format asked for, or else pretty on a terminal and JSON anywhere else (a pipe, a file, a container log). */
export function effectiveLogFormat(asked: LogFormat | undefined, stdoutIsTerminal = process.stdout.isTTY === true) {
  return asked ?? (stdoutIsTerminal ? 'pretty' : 'json');
}

/**
 * The logger of a service (the API, a worker node): pino writing to stdout in the format chosen by
 * `effectiveLogFormat`; pretty lines leave out the fields every line of the service carries
 * (`options.base`). Lines are written synchronously: one logged just before `process.exit` is not
 * lost, and when stdout is gone (the process that read it died) logging stops instead of an exit
 * that waits forever to flush.
 */
export function createServiceLogger(options: LoggerOptions, format: LogFormat | undefined): Logger {
  const stdout = pino.destination({ fd: 1, sync: true });
  if (effectiveLogFormat(format) === 'json') return pino(options, stdout);
  const ignore = ['pid', 'hostname', ...Object.keys(options.base ?? {})].join(',');
  const prettify = prettyFactory({ singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore });
  return pino(options, { write: (line: string) => stdout.write(prettify(line)) });
}

/** Logs which Redis the service uses; a warning when it is the default because REDIS_URL is not set. */
export function logRedisInUse(logger: Logger, env: NodeJS.ProcessEnv, url: string): void {
  const fields = describeRedis(env, url);
  if (fields.redisFromDefault) {
    logger.warn(fields, 'REDIS_URL is not set: using the default, a Redis on this machine');
  } else {
    logger.info(fields, 'using Redis');
  }
}
