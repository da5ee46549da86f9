#!/usr/bin/env node
import { configOrExit, createServiceLogger, logRedisInUse } from '@beamline/jobs';
import { loadConfig, type WorkerConfig } from './config.js';
import { WorkerNode } from './worker-node.js';

/** Why the HTTP server could not listen, in words naming the variable to change; undefined for any other error. */
function listenProblem(error: unknown, config: WorkerConfig): string | undefined {
  const { metricsHost: host, metricsPort: port } = config;
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; set METRICS_PORT to a free port (0 picks one)`;
    case 'EACCES':
      return `listening on ${host}:${port} is not permitted; set METRICS_PORT to a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine; set METRICS_HOST to one of its addresses (0.0.0.0: all of them)`;
    default:
      return undefined;
  }
}

async function main(): Promise<void> {
  const config = configOrExit(loadConfig);
  const logger = createServiceLogger({ level: config.logLevel, base: { node: config.nodeId } }, config.logFormat);
  logRedisInUse(logger, process.env, config.redisUrl);
  const worker = await WorkerNode.start(config, logger, {
    onFatal: () => {
      logger.flush();
      process.exit(1);
    },
  }).catch((error: unknown) => {
    throw new Error(listenProblem(error, config) ?? (error instanceof Error ? error.message : String(error)));
  });
  let stopping = false;
  const drain = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, deadlineMs: config.drainDeadlineMs }, 'draining');
    worker.drain().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  // Started by `npm start` (over an IPC channel): say so when ready, and drain if it goes away.
  if (process.send) {
    process.channel?.unref();
    process.on('disconnect', () => drain('parent exited'));
    process.send({ type: 'ready', port: worker.httpPort, nodeId: worker.nodeId });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`The worker node could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
