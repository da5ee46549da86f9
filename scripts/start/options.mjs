// The command line of `npm start`: options, their checks, and the help text.
import { parseArgs } from 'node:util';

/** Bad usage: one line naming what is wrong; `npm start` exits with status 2. */
export class UsageError extends Error {}

export const USAGE = `Usage: npm start [-- options]      (or: node scripts/start.mjs [options])

Runs the whole platform on this machine: builds what it needs, uses REDIS_URL or the Redis at
127.0.0.1:<redis-port>, or starts a redis-server from PATH (append-only, data under .beamline/);
then the worker nodes and the API; prints the URLs, an API key and a curl to try.
Ctrl-C stops it in order: the API, then the workers (running jobs finish, up to DRAIN_DEADLINE_MS),
then the Redis it started. Ctrl-C again stops everything at once.

Options:
  --workers N          worker nodes to start, 1 to 64 (default 1)
  --port P             the API's port (default: PORT, else 3000; 0 picks a free port)
  --metrics-port P     the first worker's metrics port, the next workers' follow it
                       (default: METRICS_PORT, else 9464; 0 picks free ports)
  --redis-port P       the port of the local Redis to use or start when REDIS_URL is unset (default 6379)
  --no-build           start what is already built
  -h, --help           print this help and exit

Environment (an option, when given, wins over its variable):
  REDIS_URL            the Redis to use (REDIS_CLUSTER=true: seed nodes of a cluster); unset: the local one
  PORT, HOST           the API's port and address (default 3000 on 0.0.0.0, every interface)
  METRICS_PORT, METRICS_HOST
                       the first worker's metrics port and address (default 9464 on 0.0.0.0)
  BEAMLINE_API_KEYS    the API keys, "key:tenant,…" (tenant admin: the admin key); unset: a user
                       key and an admin key made once and kept in .beamline/api-keys.json
  NODE_ID              the worker's node id; with several workers NODE_ID-1, NODE_ID-2, …
                       (default local-<random>-1, …: new at every start)
  DRAIN_DEADLINE_MS    how long running jobs may go on when stopping (default 30000)
  LOG_LEVEL            fatal, error, warn, info, debug, trace or silent (default info)
  LOG_FORMAT           pretty or json (default: pretty when stdout is a terminal, json otherwise)
  Every other variable of the API and the workers (apps/api/README.md, apps/worker/README.md)
  reaches them as it is; the API keys reach the API alone.
`;

const SEE_HELP = 'see npm start -- --help';

/** The quoted option or argument in one of `util.parseArgs`'s messages. */
function quoted(message) {
  return /'([^']+)'/.exec(message)?.[1] ?? message;
}

/** One line saying what `util.parseArgs` refused. */
function usageProblem(error) {
  const name = quoted(error.message).split(' ')[0];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${name}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(name)} (options start with --)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return error.message.includes('does not take an argument') ? `${name} takes no value` : `${name} needs a value`;
    default:
      return error.message;
  }
}

function wholeNumber(text, option, min, max) {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${option} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * The options of `npm start`, checked. Port options are undefined when not given: the variable or
 * default applies then. Throws UsageError.
 */
export function parseOptions(args) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        workers: { type: 'string' },
        port: { type: 'string' },
        'metrics-port': { type: 'string' },
        'redis-port': { type: 'string' },
        'no-build': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    if (typeof error?.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(`${usageProblem(error)}; ${SEE_HELP}`);
    }
    throw error;
  }
  return {
    help: values.help === true,
    workers: wholeNumber(values.workers, 'workers', 1, 64) ?? 1,
    port: wholeNumber(values.port, 'port', 0, 65_535),
    metricsPort: wholeNumber(values['metrics-port'], 'metrics-port', 0, 65_535),
    redisPort: wholeNumber(values['redis-port'], 'redis-port', 1, 65_535),
    build: values['no-build'] !== true,
  };
}
