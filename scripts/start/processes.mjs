// The processes `npm start` runs. Each gets a process group of its own, so that a Ctrl-C in the
// terminal reaches `npm start` alone and the processes stop in the order it chooses.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export class ManagedProcess {
  /**
   * @param {object} spec
   * @param {string} spec.name the prefix of its output lines, e.g. worker-1
   * @param {'api' | 'worker' | 'redis'} spec.role
   * @param {string} spec.command
   * @param {string[]} spec.args
   * @param {string} spec.cwd
   * @param {NodeJS.ProcessEnv} spec.env
   * @param {boolean} spec.ipc whether it says it is ready with a `{ type: 'ready' }` message
   * @param {(name: string, line: string) => void} spec.onLine
   */
  constructor({ name, role, command, args, cwd, env, ipc, onLine }) {
    this.name = name;
    this.role = role;
    this.child = spawn(command, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
    });
    this.output = [];
    for (const stream of [this.child.stdout, this.child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        if (this.output.length > 200) this.output.shift();
        onLine(name, line);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.readyMessage = ipc
      ? new Promise((resolve) => this.child.on('message', (message) => message?.type === 'ready' && resolve(message)))
      : undefined;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Its ready message (it must have been started with `ipc`); rejects if it ends first. */
  async ready() {
    if (this.readyMessage === undefined) throw new Error(`${this.name} has no IPC channel to say it is ready`);
    const outcome = await Promise.race([this.readyMessage, this.exited.then((ended) => ({ ended }))]);
    if (outcome.ended === undefined) return outcome;
    throw new ExitedBeforeReady(this, outcome.ended);
  }

  /** Sends `signal` to the process itself (not its group: a worker's jobs are its to end). */
  signal(signal) {
    if (!this.running) return;
    try {
      this.child.kill(signal);
    } catch {
      // It has just ended.
    }
  }

  /** Kills the process and whatever it started (its process group) at once. */
  kill() {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }

  /** Asks it to stop with `signal`; kills it if it has not ended within `graceMs`. Resolves when it has ended. */
  async stop(signal, graceMs) {
    if (!this.running) return;
    const killer = setTimeout(() => this.kill(), graceMs);
    this.signal(signal);
    await this.exited;
    clearTimeout(killer);
  }
}

export class ExitedBeforeReady extends Error {
  constructor(process, { code, signal, error }) {
    super(
      error
        ? `${process.name} could not be started: ${error.message}`
        : `${process.name} exited (${signal ?? `status ${code}`}) before it was ready`,
    );
    this.process = process;
  }
}

/** Runs a command in this process's group (so a Ctrl-C stops it too), its output going to this terminal. */
export function runInForeground(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: 'inherit' });
  return {
    child,
    finished: once(child, 'exit').then(([code, signal]) => ({ code, signal })),
  };
}
