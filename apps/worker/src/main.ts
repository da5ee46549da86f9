#!/usr/bin/env node
import { configOrExit } from '@beamline/jobs';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { WorkerNode } from './worker-node.js';

async function main(): Promise<void> {
  const config = configOrExit(loadConfig);
  const logger = pino({ level: config.logLevel, base: { node: config.nodeId } });
  const worker = await WorkerNode.start(config, logger, {
    onFatal: () => {
      logger.flush();
      process.exit(1);
    },
  });
  let stopping = false;
  const drain = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, deadlineMs: config.drainDeadlineMs }, 'draining');
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
}

main().catch((error: unknown) => {
  process.stderr.write(`The worker node could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
