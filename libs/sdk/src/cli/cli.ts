import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BeamlineApiError, BeamlineConnectionError } from '../client/errors.js';
import {
  type Command,
  commandHelp,
  GLOBAL_OPTIONS,
  OperationFailed,
  type OptionSpecs,
  UsageError,
  usageLine,
} from './command.js';
import { COMMANDS } from './commands/index.js';
import { connect } from './connection.js';
import { Output } from './output.js';

/** The CLI's exit codes. */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed: a job failed, a bundle was refused, the API said no. */
  failed: 1,
  usage: 2,
  /** The API cannot be reached, or refused the key. */
  unreachable: 3,
  interrupted: 130,
} as const;

/** Runs the CLI on `argv` (without node and the script) and resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const out = new Output(json);
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await dispatch(argv, out, interrupt.signal);
  } catch (error) {
    return reportError(error, out, argv);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function dispatch(argv: readonly string[], out: Output, signal: AbortSignal): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    out.error(overview());
    return EXIT.usage;
  }
  if (first === '--help' || first === '-h') {
    out.text(overview());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    out.text(version());
    return EXIT.ok;
  }
  if (first === 'help') return help(argv.slice(1), out);
  const command = findCommand(argv);
  const rest = argv.slice(command.path.length);
  const { values, positionals } = parseOptions(command, rest);
  if (values.help) {
    out.text(commandHelp(command));
    return EXIT.ok;
  }
  if (positionals.length !== command.args.length) {
    const expected = command.args.length === 0 ? 'no arguments' : command.args.map((a) => `<${a}>`).join(' ');
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ');
    throw new UsageError(`${command.path.join(' ')} takes ${expected}; got ${got}.`);
  }
  const flags = values as Record<string, string | boolean | undefined>;
  return command.run({
    args: positionals,
    options: flags,
    out,
    signal,
    client: () => connect({ url: flags.url as string | undefined, apiKey: flags['api-key'] as string | undefined }),
  });
}

/** The command `argv` starts with; a usage error naming the choices otherwise. */
function findCommand(argv: readonly string[]): Command {
  const [first, second] = argv;
  const group = COMMANDS.filter((c) => c.path[0] === first);
  if (group.length === 0) throw new UsageError(`Unknown command ${JSON.stringify(first)}.`);
  const single = group.find((c) => c.path.length === 1);
  if (single) return single;
  const sub = group.find((c) => c.path[1] === second);
  if (sub) return sub;
  const choices = group.map((c) => c.path[1]).join(', ');
  if (second === undefined || second.startsWith('-')) {
    throw new UsageError(`${first} needs a subcommand: ${choices}.`);
  }
  throw new UsageError(`Unknown command "${first} ${second}"; ${first} has ${choices}.`);
}

function parseOptions(command: Command, args: readonly string[]) {
  const options: OptionSpecs = { ...command.options, ...GLOBAL_OPTIONS };
  try {
    return parseArgs({
      args: [...args],
      options: Object.fromEntries(
        Object.entries(options).map(([name, spec]) => [
          name,
          spec.short ? { type: spec.type, short: spec.short } : { type: spec.type },
        ]),
      ),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error, command));
  }
}

/** node:util's parse errors, shortened to what went wrong. */
function parseArgsMessage(error: unknown, command: Command): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-[^']*)'/.exec(message)?.[1];
  const where = command.path.join(' ');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${where} has no option ${option ?? message}.`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return option && /argument missing/.test(message)
        ? `${option} needs a value.`
        : `${option ?? 'an option'} takes no value here: ${message.split('\n')[0]}`;
    default:
      return message.split('\n')[0] ?? message;
  }
}

function help(topic: readonly string[], out: Output): number {
  if (topic.length === 0) {
    out.text(overview());
    return EXIT.ok;
  }
  const command = findCommand(topic);
  out.text(commandHelp(command));
  return EXIT.ok;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => usageLine(c).length));
  return [
    'beamline: deploy and run functions on a Beamline cluster, and watch it.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${usageLine(c).padEnd(width)}  ${c.summary}`),
    '',
    'Connection: BEAMLINE_URL and BEAMLINE_API_KEY, or --url and --api-key.',
    'Every command takes --json (output for scripts) and --help. Exit codes: 0 ok, 1 the operation failed',
    '(e.g. the job failed), 2 usage error, 3 cannot reach the API or the key is refused.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function reportError(error: unknown, out: Output, argv: readonly string[]): number {
  if (error instanceof Error && error.name === 'AbortError') return EXIT.interrupted;
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (out.json) {
    const problem = error instanceof BeamlineApiError ? { status: error.status, problem: error.problem } : {};
    out.error(JSON.stringify({ error: { message, exitCode: code, ...problem } }));
    return code;
  }
  out.error(`beamline: ${message}`);
  if (error instanceof BeamlineApiError) {
    for (const field of error.errors) out.error(`  ${field.path}: ${field.message}`);
  }
  if (code === EXIT.usage) {
    const words = argv.filter((word) => !word.startsWith('-'));
    const command = COMMANDS.find((c) => c.path.every((word, i) => words[i] === word));
    out.error(
      command
        ? `Run "beamline ${command.path.join(' ')} --help" for its usage.`
        : 'Run "beamline --help" for the commands.',
    );
  }
  const unexpected = !(
    error instanceof OperationFailed ||
    error instanceof BeamlineApiError ||
    error instanceof UsageError
  );
  if (unexpected && process.env.BEAMLINE_DEBUG && error instanceof Error && error.stack) out.error(error.stack);
  return code;
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof BeamlineConnectionError) return EXIT.unreachable;
  if (error instanceof BeamlineApiError)
    return error.status === 401 || error.status === 403 ? EXIT.unreachable : EXIT.failed;
  return EXIT.failed;
}
