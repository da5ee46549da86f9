import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Running {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once `marker` is in the output; rejects with the output when the process ends first or `timeoutMs` passes. */
  until(marker: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process ends; rejects with the output when it has not within `timeoutMs`. */
  ended(timeoutMs?: number): Promise<Exit>;
  /** What Ctrl-C in its terminal does: SIGINT to its whole process group (it leads one). */
  interrupt(): void;
}

const started = new Set<ChildProcess>();

/** Runs `command` from the repository root as the leader of a new process group, collecting its output. */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  started.add(child);
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exit = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exit.then(() => {
    for (const waiter of waiters) waiter();
  });
  const described = () => `${command} ${args.join(' ')}`;
  return {
    child,
    output: () => output,
    until: (marker, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const found = () => (typeof marker === 'string' ? output.includes(marker) : marker.test(output));
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${String(marker)} from ${described()} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        const check = () => {
          if (found()) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(
              new Error(
                `${described()} ended (${child.exitCode ?? child.signalCode}) before ${String(marker)}:\n${output}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      }),
    ended: (timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${described()} did not end within ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
        exit.then((ending) => {
          clearTimeout(timer);
          resolve(ending);
        });
      }),
    interrupt: () => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
    },
  };
}

/** `node scripts/start.mjs …`, as `npm start -- …` runs it. */
export function runStart(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  return run(process.execPath, ['scripts/start.mjs', ...args], env);
}

/** Every process below `pid`, deepest last. */
export function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none.
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

export function killQuietly(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * Kills what the tests started and everything below it: `npm start` puts its processes in groups
 * of their own, so killing its group alone would leave them running.
 */
export function killEverythingStarted(): void {
  for (const child of started) {
    started.delete(child);
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    const below = descendants(child.pid);
    for (const pid of [child.pid, ...below]) {
      killQuietly(-pid);
      killQuietly(pid);
    }
  }
}

/** The environment of the tests without the variables `npm start` and the apps read. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    'REDIS_URL',
    'REDIS_CLUSTER',
    'BEAMLINE_API_KEYS',
    'PORT',
    'HOST',
    'METRICS_PORT',
    'METRICS_HOST',
    'NODE_ID',
    'LOG_LEVEL',
    'LOG_FORMAT',
    'DRAIN_DEADLINE_MS',
  ]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

export function removeRedisData(redisPort: number): void {
  rmSync(join(root, '.beamline', `redis-${redisPort}`), { recursive: true, force: true });
}

/** What the banner of `npm start` says. */
export function banner(output: string) {
  const text = output.slice(output.lastIndexOf('Beamline is running.'));
  return {
    apiUrl: /API:\s+(http\S+)/.exec(text)?.[1] as string,
    apiKey: /API key:\s+(\S+)/.exec(text)?.[1] as string,
    adminKey: /Admin key:\s+(\S+)/.exec(text)?.[1],
    workers: [...text.matchAll(/(\S+)\s+metrics: (http\S+)\/metrics/g)].map((match) => ({
      nodeId: match[1] as string,
      metricsUrl: match[2] as string,
    })),
    curl: /^\s*(curl .*)$/m.exec(text)?.[1] as string,
  };
}

export interface JobView {
  readonly id: string;
  readonly state: string;
  readonly result?: unknown;
}

export async function submitJob(apiUrl: string, key: string, job: object): Promise<JobView> {
  const response = await fetch(`${apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(job),
  });
  if (response.status !== 202) throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as JobView;
}

export async function getJob(apiUrl: string, key: string, id: string): Promise<JobView> {
  const response = await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return (await response.json()) as JobView;
}

/** Polls the job until `accept` holds (or throws after `timeoutMs`). */
export async function jobWhen(
  apiUrl: string,
  key: string,
  id: string,
  accept: (job: JobView) => boolean,
  timeoutMs = 60_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(apiUrl, key, id);
    if (accept(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether something accepts HTTP requests at `url`. */
export async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(5000) });
    return true;
  } catch {
    return false;
  }
}
