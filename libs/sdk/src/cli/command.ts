import type { BeamlineClient } from '../client/client.js';
import type { Output } from './output.js';

/** A mistake in how the CLI was called: exit code 2, with the command's help named. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation was carried out and failed (a job failed, a bundle was refused): exit code 1. */
export class OperationFailed extends Error {
  override readonly name = 'OperationFailed';
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** What the value is, in the help: `--input JSON|@file`. */
  readonly value?: string;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The parsed values of a command's options. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]?: { string: string; boolean: boolean }[O[K]['type']];
};

export interface CommandContext<O extends OptionSpecs> {
  /** The positional arguments, as many as the command declares. */
  readonly args: readonly string[];
  readonly options: OptionValues<O>;
  readonly out: Output;
  /** The API client, configured from --url/--api-key or BEAMLINE_URL/BEAMLINE_API_KEY. */
  client(): BeamlineClient;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** The words that name it: `['jobs', 'ls']`. */
  readonly path: readonly string[];
  /** Its positional arguments, all required: `['function']`. */
  readonly args: readonly string[];
  readonly summary: string;
  /** More help, printed after the usage line. */
  readonly details?: string;
  readonly options: O;
  /** Resolves to the exit code. */
  run(context: CommandContext<O>): Promise<number>;
}

/** Declares a command; its options' types flow into `run`. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command {
  return command as unknown as Command;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string', value: 'URL', description: 'the API, e.g. http://localhost:3000 (default: $BEAMLINE_URL)' },
  'api-key': { type: 'string', value: 'KEY', description: 'an API key (default: $BEAMLINE_API_KEY)' },
  json: { type: 'boolean', description: 'print JSON for scripts instead of text' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies OptionSpecs;

export function usageLine(command: Command): string {
  const args = command.args.map((name) => `<${name}>`).join(' ');
  return ['beamline', ...command.path, args, '[options]'].filter(Boolean).join(' ');
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: ${usageLine(command)}`, '', command.summary];
  if (command.details) lines.push('', command.details);
  lines.push('', 'Options:', ...optionLines({ ...command.options, ...GLOBAL_OPTIONS }));
  return lines.join('\n');
}

function optionLines(options: OptionSpecs): string[] {
  const entries = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(0, ...entries.map(([flag]) => flag.length));
  return entries.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}
