#!/usr/bin/env node
import { configOrExit } from '@beamline/jobs';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { startApi } from './server.js';

async function main(): Promise<void> {
  const config = configOrExit(loadConfig);
  const logger = pino({ level: config.logLevel, base: { service: 'api' } });
  const api = await startApi(config, logger);
  const stop = () => {
    logger.info('stopping');
    api.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`The API could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
