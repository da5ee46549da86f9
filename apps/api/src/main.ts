#!/usr/bin/env node
import { configOrExit, createServiceLogger, logRedisInUse } from '@beamline/jobs';
import { type ApiConfig, loadConfig } from './config.js';
import { type RunningApi, startApi } from './server.js';

/** Why `listen` refused the address, in words naming the variable to change; undefined for any other error. */
function listenProblem(error: unknown, config: ApiConfig): string | undefined {
  const { host, port } = config;
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; set PORT to a free port (0 picks one)`;
    case 'EACCES':
      return `listening on ${host}:${port} is not permitted; set PORT to a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine; set HOST to one of its addresses (0.0.0.0: all of them)`;
    default:
      return undefined;
  }
}

function exitBecauseStartFailed(error: unknown, config?: ApiConfig): never {
  const reason = (config && listenProblem(error, config)) ?? (error instanceof Error ? error.message : String(error));
  process.stderr.write(`The API could not start: ${reason}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const config = configOrExit(loadConfig);
  const logger = createServiceLogger({ level: config.logLevel, base: { service: 'api' } }, config.logFormat);
  logRedisInUse(logger, process.env, config.redisUrl);
  let api: RunningApi | undefined;
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    if (api === undefined) process.exit(0);
    api.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // The HTTP server reports a failed listen as an 'error' event that nothing handles.
  const onStartFailure = (error: Error) => exitBecauseStartFailed(error, config);
  process.once('uncaughtException', onStartFailure);
  api = await startApi(config, logger);
  process.off('uncaughtException', onStartFailure);

  // Started by `npm start` (over an IPC channel): say so when ready, and stop if it goes away.
  if (process.send) {
    process.channel?.unref();
    process.on('disconnect', () => stop('parent exited'));
    process.send({ type: 'ready', port: api.port });
  }
}

main().catch((error: unknown) => exitBecauseStartFailed(error));
