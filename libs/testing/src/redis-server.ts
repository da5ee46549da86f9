import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { redisCommand } from './resp.js';

export interface RedisServerOptions {
  /** Keep data across restarts in an append-only file (default false: nothing on disk). */
  readonly appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. ['--maxmemory', '64mb']. */
  readonly args?: readonly string[];
  /** The binary to run; default `redis-server` from PATH. */
  readonly binary?: string;
}

const STARTUP_MS = 10_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Throws a message that says how to install Redis when `binary` cannot be run. */
export function assertRedisInstalled(binary = 'redis-server'): void {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `Cannot run "${binary}": ${probe.error?.message ?? probe.stderr}. Install Redis (Debian/Ubuntu: "apt-get install redis-server"; macOS: "brew install redis") or put redis-server on PATH.`,
    );
  }
}

/**
 * A private `redis-server` on a free port of 127.0.0.1, for one test file. It can be stopped,
 * killed (SIGKILL, as in a crash) and started again on the same port and data directory.
 */
export class RedisServer {
  readonly host = '127.0.0.1';
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  /** Starts a server on a free port; retries on another port if the chosen one was taken meanwhile. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    assertRedisInstalled(options.binary);
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'beamline-redis-')), options);
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The OS pid of the redis-server process, while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** (Re)starts the server on its port and directory and resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`redis-server on port ${this.port} is already running`);
    installExitHook();
    this.log = '';
    const args = [
      '--port',
      String(this.port),
      '--bind',
      this.host,
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.options.appendOnly ? 'yes' : 'no',
      '--daemonize',
      'no',
      ...(this.options.args ?? []),
    ];
    const child = spawn(this.options.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    const collect = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + STARTUP_MS;
    for (;;) {
      if (!this.running) throw new Error(`redis-server exited at start on port ${this.port}:\n${this.log}`);
      try {
        if ((await redisCommand(this.port, ['PING'], 500)) === 'PONG') return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${this.port} did not answer PING within ${STARTUP_MS} ms:\n${this.log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Kills the server abruptly (SIGKILL), as a crash would; data not yet on disk is lost. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Stops the server (SIGTERM) and waits until it has exited; the data directory stays for `restart`. */
  async shutdown(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Stops the server and removes its data directory. */
  async stop(): Promise<void> {
    await this.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
