import type { Writable } from 'node:stream';

/**
 * Where the CLI writes. Results go to stdout (JSON with --json); notes about what is happening go
 * to stderr and are left out with --json, so that stdout stays parseable.
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: Writable = process.stdout,
    private readonly stderr: Writable = process.stderr,
  ) {}

  /** Whether stdout is a terminal (for redrawing screens). */
  get interactive(): boolean {
    return !this.json && (this.stdout as { isTTY?: boolean }).isTTY === true;
  }

  /** The command's result: `value` as JSON with --json, else the text `human` makes of it. */
  result(value: unknown, human: () => string): void {
    this.stdout.write(`${this.json ? JSON.stringify(value, null, 2) : human()}\n`);
  }

  /** One JSON document per line (streams of events with --json). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Text for stdout, whatever the mode (a screen of `top`, a log line). */
  text(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  /** A note on stderr, only in text mode. */
  note(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  error(line: string): void {
    this.stderr.write(`${line}\n`);
  }
}
