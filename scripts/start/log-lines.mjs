// How the output lines of the processes reach the terminal: prefixed with the process's name, and
// as pino-pretty's lines when people read them (the apps always write JSON lines to `npm start`).
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** LOG_FORMAT, else pretty when stdout is a terminal and JSON otherwise. */
export function chosenLogFormat(env = process.env, stdoutIsTerminal = process.stdout.isTTY === true) {
  if (env.LOG_FORMAT === 'json' || env.LOG_FORMAT === 'pretty') return env.LOG_FORMAT;
  return stdoutIsTerminal ? 'pretty' : 'json';
}

/** pino-pretty, as the API resolves it; undefined when it is not installed. */
function loadPrettyFactory(root) {
  try {
    return createRequire(join(root, 'apps/api/package.json'))('pino-pretty').prettyFactory;
  } catch {
    return undefined;
  }
}

/** A function writing one output line of a named process to stdout, in `format`. */
export function lineWriter(format, root) {
  const prettyFactory = format === 'pretty' ? loadPrettyFactory(root) : undefined;
  const prettify = prettyFactory?.({
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,node',
  });
  return (name, line) => {
    let text = line;
    if (prettify && line.startsWith('{')) {
      try {
        text = prettify(line).replace(/\r?\n$/, '');
      } catch {
        // Not a log line after all: as it is.
      }
    }
    process.stdout.write(`${text.replace(/^/gm, `[${name}] `)}\n`);
  };
}
