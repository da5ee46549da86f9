import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RunningApi, startApi } from '@beamline/api';
import { freePort, RedisServer, redisCommand } from '@beamline/testing';

/**
 * The platform the hostile-code suite attacks: a private redis-server, the API in this process
 * and worker nodes as real OS processes (`node apps/worker/dist/main.js`), each started through
 * a `sh` wrapper so that "the parent of the worker" is a process the suite can watch (and that
 * a job killing its parent cannot take the test runner down with it). Every worker carries a
 * canary secret and the admin API key in its environment, as a misconfigured deployment would,
 * so that any leak of the node's environment into a job's result or logs is detectable.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
export const WORKER_MAIN = `${root}apps/worker/dist/main.js`;

export const KEYS = {
  acme: 'acme-hostile-key-0123456789abcdef',
  globex: 'globex-hostile-key-0123456789abcdef',
  admin: 'admin-hostile-key-0123456789abcdef',
} as const;
export type Tenant = keyof typeof KEYS;

/** A JSON response body, read field by field by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON
export type Json = any;

/** A line a tenant forged to look like one of the node's own log lines (pino JSON, level fatal). */
export function isForgedLogLine(line: string): boolean {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return false;
  try {
    const parsed = JSON.parse(trimmed) as { level?: unknown; msg?: unknown };
    return parsed.level === 60 && typeof parsed.msg === 'string' && parsed.msg.startsWith('forged');
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One worker node: a `sh` wrapper (its parent) and the node process under it. */
export class WorkerProcess {
  /** Lines the node wrote that look like forged log lines (stdout and stderr). */
  readonly forgedLines: string[] = [];
  stdoutLines = 0;
  private readonly tail: string[] = [];
  private constructor(
    readonly nodeId: string,
    readonly metricsPort: number,
    readonly wrapper: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(nodeId: string, env: Record<string, string>): Promise<WorkerProcess> {
    if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run "npm run build" at the root first.`);
    const metricsPort = await freePort();
    const wrapper = spawn(
      'sh',
      ['-c', '"$0" "$1"; echo "hostile-suite: worker exited with status $?" >&2', process.execPath, WORKER_MAIN],
      {
        env: {
          ...process.env,
          ...env,
          NODE_ID: nodeId,
          METRICS_PORT: String(metricsPort),
          METRICS_HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const early: string[] = [];
    const collectEarly = (chunk: Buffer) => early.push(chunk.toString('utf8'));
    wrapper.stderr?.on('data', collectEarly);
    const shPid = wrapper.pid as number;
    let pid: number | undefined;
    const deadline = Date.now() + 15_000;
    while (pid === undefined) {
      if (wrapper.exitCode !== null) throw new Error(`worker ${nodeId} exited at start:\n${early.join('')}`);
      try {
        const children = readFileSync(`/proc/${shPid}/task/${shPid}/children`, 'utf8').trim();
        if (children) pid = Number(children.split(/\s+/)[0]);
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`worker ${nodeId}: no node process under the wrapper`);
      if (pid === undefined) await sleep(10);
    }
    wrapper.stderr?.off('data', collectEarly);
    const worker = new WorkerProcess(nodeId, metricsPort, wrapper, pid);
    worker.watch(wrapper.stdout, 'stdout', early);
    worker.watch(wrapper.stderr, 'stderr', early);
    while (!(await worker.ready())) {
      if (!worker.alive()) throw new Error(`worker ${nodeId} died at start:\n${worker.output()}`);
      if (Date.now() > deadline) throw new Error(`worker ${nodeId} not ready within 15 s:\n${worker.output()}`);
      await sleep(50);
    }
    return worker;
  }

  private watch(stream: NodeJS.ReadableStream | null, name: string, early: string[]): void {
    if (!stream) return;
    for (const text of early.splice(0)) for (const line of text.split('\n')) this.remember(`[stderr] ${line}`);
    createInterface({ input: stream }).on('line', (line) => {
      if (name === 'stdout') this.stdoutLines++;
      if (isForgedLogLine(line)) this.forgedLines.push(line);
      this.remember(`[${name}] ${line}`);
    });
  }

  private remember(line: string): void {
    this.tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (this.tail.length > 60) this.tail.shift();
  }

  /** The last lines the node (and its wrapper) wrote. */
  output(): string {
    return this.tail.join('\n');
  }

  /** The wrapper (the node's parent) still runs. */
  parentAlive(): boolean {
    return this.wrapper.exitCode === null && this.wrapper.signalCode === null;
  }

  /** The node process still runs (not exited, not a zombie). */
  alive(): boolean {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }

  async ready(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`, {
        signal: AbortSignal.timeout(3000),
      });
      await response.text();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Open file descriptors of the node process. */
  fds(): number {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return Number.NaN;
    }
  }

  /** Resident set size of the node process, MB. */
  rssMb(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
    } catch {
      return Number.NaN;
    }
  }

  /** The node's descendants (sandbox processes and whatever they started), by pid. */
  descendants(): number[] {
    const found: number[] = [];
    const stack = [this.pid];
    while (stack.length > 0) {
      const pid = stack.pop() as number;
      let tasks: string[] = [];
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const task of tasks) {
        try {
          for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) {
            if (child) {
              found.push(Number(child));
              stack.push(Number(child));
            }
          }
        } catch {
          // gone meanwhile
        }
      }
    }
    return found;
  }

  /** RSS of the node and all its descendants, MB: all memory its jobs cause. */
  treeRssMb(): number {
    let kib = 0;
    for (const pid of [this.pid, ...this.descendants()]) {
      try {
        kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      } catch {
        // gone meanwhile
      }
    }
    return kib / 1024;
  }

  /** OS threads of the node process. */
  threads(): number {
    try {
      return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
    } catch {
      return Number.NaN;
    }
  }

  /** The sum of a metric's samples on the node's /metrics (0 when absent). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  kill(): void {
    for (const pid of [this.pid, this.wrapper.pid]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

export interface Health {
  readonly node: string;
  readonly alive: boolean;
  readonly parentAlive: boolean;
  readonly ready: boolean;
  readonly fds: number;
  readonly rssMb: number;
}

/** A logger for the in-process API that drops everything (no pino dependency needed here). */
function silentLogger(): Parameters<typeof startApi>[1] {
  const logger: object = new Proxy(
    {},
    {
      get: (_target, property) => {
        if (property === 'child') return () => logger;
        if (property === 'level') return 'silent';
        return () => undefined;
      },
    },
  );
  return logger as Parameters<typeof startApi>[1];
}

export interface WorkerEnv {
  readonly [name: string]: string;
}

export class HostilePlatform {
  readonly canary = `canary-${randomBytes(16).toString('hex')}`;
  /** Worker (re)starts after one was found dead, for the report. */
  readonly restarts: string[] = [];
  private healing: Promise<void> | undefined;

  private constructor(
    readonly redis: RedisServer,
    readonly api: RunningApi,
    readonly workers: WorkerProcess[],
    private readonly workerEnv: Record<string, string>,
  ) {}

  static async start(workerEnv: WorkerEnv, count = 2): Promise<HostilePlatform> {
    const redis = await RedisServer.start();
    const api = await startApi(
      loadConfig({
        REDIS_URL: redis.url,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        BEAMLINE_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.admin}:admin`,
      }),
      silentLogger(),
    );
    const platform = new HostilePlatform(redis, api, [], {});
    Object.assign(platform.workerEnv, {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'info',
      // The secrets a hostile job must never see: a canary and, as a misconfigured deployment
      // would have it, the API's admin key.
      BEAMLINE_CANARY: platform.canary,
      BEAMLINE_API_KEYS: `${KEYS.admin}:admin`,
      ...workerEnv,
    });
    try {
      for (let i = 0; i < count; i++) {
        platform.workers.push(await WorkerProcess.start(`hostile-${i + 1}`, platform.workerEnv));
      }
    } catch (error) {
      await platform.stop();
      throw error;
    }
    return platform;
  }

  /** Replaces any worker found dead (a probe that killed one must not fail the probes after it). */
  heal(): Promise<void> {
    this.healing ??= (async () => {
      for (const [i, worker] of this.workers.entries()) {
        if (worker.alive() && worker.parentAlive() && (await worker.ready())) continue;
        this.restarts.push(
          `${worker.nodeId} (alive ${worker.alive()}, parent alive ${worker.parentAlive()}):\n${worker.output()}`,
        );
        worker.kill();
        this.workers[i] = await WorkerProcess.start(`${worker.nodeId}-r${this.restarts.length}`, this.workerEnv);
      }
    })().finally(() => {
      this.healing = undefined;
    });
    return this.healing;
  }

  async health(): Promise<Health[]> {
    return Promise.all(
      this.workers.map(async (w) => ({
        node: w.nodeId,
        alive: w.alive(),
        parentAlive: w.parentAlive(),
        ready: await w.ready(),
        fds: w.fds(),
        rssMb: Math.round(w.rssMb()),
      })),
    );
  }

  /** fetch against the API as a tenant, JSON in and out (`raw` with its own content type). */
  async call(
    method: string,
    path: string,
    options: { body?: unknown; as?: Tenant; raw?: string; contentType?: string } = {},
  ): Promise<{ status: number; body: Json }> {
    const headers: Record<string, string> = { authorization: `Bearer ${KEYS[options.as ?? 'acme']}` };
    let body: string | undefined = options.raw;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(`${this.api.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  }

  deploy(as: Tenant, name: string, source: string): Promise<{ status: number; body: Json }> {
    return this.call('PUT', `/v1/functions/${name}`, { as, raw: source, contentType: 'application/javascript' });
  }

  submit(as: Tenant, spec: Record<string, unknown>): Promise<{ status: number; body: Json }> {
    return this.call('POST', '/v1/jobs', { as, body: spec });
  }

  /** The job once ended (long polls until `timeoutMs`; throws if it has not ended by then). */
  async ended(as: Tenant, id: string, timeoutMs = 30_000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.min(60_000, deadline - Date.now()));
      const { status, body } = await this.call('GET', `/v1/jobs/${id}/wait?timeoutMs=${left}`, { as });
      if (status === 200) return body;
      if (status !== 408 || Date.now() >= deadline) {
        throw new Error(`job ${id} did not end within ${timeoutMs} ms: ${status} ${JSON.stringify(body)}`);
      }
    }
  }

  /** Polls until the job runs and has a pid. */
  async running(as: Tenant, id: string, timeoutMs = 15_000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.call('GET', `/v1/jobs/${id}`, { as });
      if (body?.state === 'running' && body.pid) return body;
      if (Date.now() > deadline) throw new Error(`job ${id} did not start: ${JSON.stringify(body)}`);
      await sleep(10);
    }
  }

  /** The job's log lines as BullMQ stores them (read straight from Redis), joined by newlines. */
  async logs(id: string): Promise<string> {
    const script = "return table.concat(redis.call('LRANGE', KEYS[1], 0, -1), '\\n')";
    const text = await redisCommand(this.redis.port, ['EVAL', script, '1', `{beamline}:jobs:${id}:logs`], 10_000);
    return typeof text === 'string' ? text : '';
  }

  async logCount(id: string): Promise<number> {
    return Number(await redisCommand(this.redis.port, ['LLEN', `{beamline}:jobs:${id}:logs`], 5000));
  }

  /** The secrets and host contents that no job's result, exit or logs may contain. */
  leaks(text: string): string[] {
    const found: string[] = [];
    if (text.includes(this.canary)) found.push('the canary from the node environment');
    if (text.includes(KEYS.admin)) found.push('the admin API key from the node environment');
    if (/root:[^:\n]*:0:0:/.test(text)) found.push('/etc/passwd content');
    if (text.includes('uid=')) found.push('"uid=" (output of id)');
    if (text.includes('REDIS_URL=') || text.includes('NODE_ID=')) found.push('environment variables');
    return found;
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) worker.kill();
    await this.api.close().catch(() => undefined);
    await this.redis.stop();
  }
}
