import { type Logger, type LoggerOptions, pino } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** LOG_FORMAT: JSON lines for machines, or pino-pretty's lines for people. */
export type LogFormat = 'json' | 'pretty';

/** The format asked for, or else pretty on a terminal and JSON anywhere else (a pipe, a file, a container log). */
export function effectiveLogFormat(asked: LogFormat | undefined, stdoutIsTerminal = process.stdout.isTTY === true) {
  return asked ?? (stdoutIsTerminal ? 'pretty' : 'json');
}

/**
 * A pino logger writing to stdout in the format chosen by `effectiveLogFormat`. Lines are written
 * synchronously: one logged just before `process.exit` is not lost, and when stdout is gone (the
 * process that read it died) logging stops instead of an exit that waits forever to flush.
 */
export function createLogger(options: LoggerOptions, format: LogFormat | undefined): Logger {
  const stdout = pino.destination({ fd: 1, sync: true });
  if (effectiveLogFormat(format) === 'json') return pino(options, stdout);
  const prettify = prettyFactory({ singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
  return pino(options, { write: (line: string) => stdout.write(prettify(line)) });
}
