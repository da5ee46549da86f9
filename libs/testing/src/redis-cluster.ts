import { spawn, spawnSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { freePort } from './free-port.js';
import { assertRedisInstalled, RedisServer } from './redis-server.js';
import { redisCommand } from './resp.js';

export interface RedisClusterOptions {
  /** How many masters share the 16384 slots (default 3, the least Redis Cluster accepts; no replicas). */
  readonly masters?: number;
  /** The `redis-server` binary to run; default `redis-server` from PATH. `redis-cli` always comes from PATH. */
  readonly binary?: string;
}

const SLOT_COUNT = 16384;
const CLUSTER_READY_MS = 20_000;

/** Throws a message that says how to install `redis-cli` when `binary` cannot be run. */
export function assertRedisCliInstalled(binary = 'redis-cli'): void {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `Cannot run "${binary}": ${probe.error?.message ?? probe.stderr}. It creates the cluster. Install it (Debian/Ubuntu: "apt-get install redis-tools", which the redis-server package also pulls in; macOS: "brew install redis") or put redis-cli on PATH.`,
    );
  }
}

/**
 * A private Redis Cluster on 127.0.0.1 for one test file: `masters` redis-servers, each with its own
 * directory and free ports, that share all 16384 slots. `start` resolves once every node says the
 * cluster is ok.
 */
export class RedisCluster {
  /** Seeds for a cluster client, e.g. `new Cluster(cluster.nodes)` of ioredis. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;

  private constructor(private readonly servers: readonly RedisServer[]) {
    this.nodes = servers.map((server) => ({ host: server.host, port: server.port }));
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    if (!Number.isInteger(masters) || masters < 3) {
      throw new Error(`A Redis Cluster needs at least 3 masters, not ${masters}.`);
    }
    assertRedisInstalled(options.binary);
    assertRedisCliInstalled();
    const started = await Promise.allSettled(Array.from({ length: masters }, () => startClusterNode(options.binary)));
    const cluster = new RedisCluster(
      started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    );
    try {
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      await cluster.create();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get urls(): string[] {
    return this.servers.map((server) => server.url);
  }

  /** Kills every node and removes their directories. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }

  private async create(): Promise<void> {
    const deadline = Date.now() + CLUSTER_READY_MS;
    const addresses = this.nodes.map((node) => `${node.host}:${node.port}`);
    const cli = await runRedisCli(
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      CLUSTER_READY_MS,
    );
    if (cli.status !== 0) {
      const ending = cli.status === null ? `killed after ${CLUSTER_READY_MS} ms` : `exit ${cli.status}`;
      throw new Error(`redis-cli --cluster create failed (${ending}):\n${cli.output}`);
    }
    for (;;) {
      const infos = await Promise.all(this.nodes.map((node) => clusterInfo(node.port)));
      const waiting = infos.flatMap((info, i) => (isReady(info) ? [] : [`${addresses[i]}: ${summary(info)}`]));
      if (waiting.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Redis Cluster not ok within ${CLUSTER_READY_MS} ms; not ready:\n${waiting.join('\n')}\nredis-cli said:\n${cli.output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Starts one cluster-enabled server; its bus port is chosen too, as the default (port + 10000) may exceed 65535. */
async function startClusterNode(binary: string | undefined): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const args = [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-port',
      String(await freePort()),
      '--cluster-node-timeout',
      '2000',
    ];
    try {
      return await RedisServer.start(binary === undefined ? { args } : { args, binary });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function clusterInfo(port: number): Promise<string> {
  try {
    return String(await redisCommand(port, ['CLUSTER', 'INFO'], 500));
  } catch (error) {
    return (error as Error).message;
  }
}

function isReady(clusterInfo: string): boolean {
  return clusterInfo.includes('cluster_state:ok') && clusterInfo.includes(`cluster_slots_assigned:${SLOT_COUNT}\r\n`);
}

/** The lines of a CLUSTER INFO reply that tell why a node is not ready (or the error that replaced it). */
function summary(clusterInfo: string): string {
  const lines = clusterInfo.split('\r\n').filter((line) => /^cluster_(state|slots_assigned|known_nodes):/.test(line));
  return lines.length > 0 ? lines.join(' ') : clusterInfo;
}

function runRedisCli(args: readonly string[], timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    // redis-cli colours its output even when it is not a terminal.
    child.once('close', (status) => resolve({ status, output: stripVTControlCharacters(output) }));
  });
}
