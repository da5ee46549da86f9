import type { SchedulerStats } from '../contract/cluster.js';
import type { HeartbeatProcess, HeartbeatRelations, SupervisionEntry } from '../contract/processes.js';
import { type NodeTree, processesForTenant, treesForTenant } from './audience.js';

/** A node's latest heartbeat, as liveNodes reads it. */
export interface NodeBeat {
  readonly node: string;
  readonly at: number;
  readonly stats: SchedulerStats;
  readonly processes?: HeartbeatProcess[];
  readonly relations?: Record<string, HeartbeatRelations>;
  readonly tree?: SupervisionEntry;
}

/** One point of a node's charts: what one heartbeat said. */
export interface NodeSample {
  readonly at: number;
  readonly utilization: number | null;
  readonly runQueue: Partial<Record<string, number>>;
  readonly cpuSecondsByPriority: Partial<Record<string, number>>;
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  readonly processesByStatus: Record<string, number>;
}

export interface ConsoleProcess extends HeartbeatProcess, Partial<HeartbeatRelations> {
  readonly node: string;
  /** When the feed first saw it: its age, to within a heartbeat. */
  readonly firstSeenAt: number;
  /** For a tenant: links and monitors left out because they name processes that are not its own. */
  readonly linksHidden?: number;
  readonly monitorsHidden?: number;
}

export interface ConsoleNode {
  readonly node: string;
  readonly lastSeen: string;
  readonly stats: SchedulerStats;
  readonly processes: number;
  readonly sample: NodeSample;
}

/** Who watches: the admin sees every node and process, a tenant only its own processes. */
export interface Viewer {
  readonly tenant: string;
  readonly admin: boolean;
}

export interface FeedOptions {
  readonly tickMs?: number;
  /** How far back a node's samples are kept. */
  readonly historyMs?: number;
}

type Listener = (tick: FeedTick) => void;

function sampleOf(beat: NodeBeat): NodeSample {
  const processesByStatus: Record<string, number> = {};
  for (const process of beat.processes ?? []) {
    const status = process.status ?? 'unknown';
    processesByStatus[status] = (processesByStatus[status] ?? 0) + 1;
  }
  return {
    at: beat.at,
    utilization: beat.stats.utilization ?? null,
    runQueue: beat.stats.runQueue ?? {},
    cpuSecondsByPriority: beat.stats.cpuSecondsByPriority ?? {},
    lagMs: beat.stats.mainThread?.lagMs ?? null,
    processesByStatus,
  };
}

/**
 * One tick's view of the cluster. Each audience's payload (the admin, or one tenant) is
 * serialized once however many viewers share it.
 */
export class FeedTick {
  private readonly payloads = new Map<string, string>();

  constructor(
    readonly at: number,
    readonly redis: boolean,
    private readonly nodes: readonly ConsoleNode[],
    private readonly processes: readonly ConsoleProcess[],
    private readonly trees: readonly NodeTree[],
  ) {}

  payloadFor(viewer: Viewer): string {
    const audience = viewer.admin ? '\0admin' : viewer.tenant;
    let payload = this.payloads.get(audience);
    if (payload === undefined) {
      payload = JSON.stringify(
        viewer.admin
          ? { at: this.at, redis: this.redis, nodes: this.nodes, processes: this.processes, supervision: this.trees }
          : {
              at: this.at,
              redis: this.redis,
              processes: processesForTenant(this.processes, viewer.tenant),
              supervision: treesForTenant(this.trees, viewer.tenant),
            },
      );
      this.payloads.set(audience, payload);
    }
    return payload;
  }
}

/**
 * The console's one reader of the cluster per API process: while at least one viewer listens,
 * it reads the nodes' heartbeats once a tick and hands the same tick to every listener; with no
 * listener it reads nothing. It keeps each live node's recent samples for the charts.
 */
export class ClusterFeed {
  private readonly listeners = new Set<Listener>();
  private readonly history = new Map<string, NodeSample[]>();
  private readonly firstSeen = new Map<string, number>();
  private readonly tickMs: number;
  private readonly historyMs: number;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private latest: FeedTick | undefined;
  private lastNodes: readonly ConsoleNode[] = [];
  private lastProcesses: readonly ConsoleProcess[] = [];
  private lastTrees: readonly NodeTree[] = [];
  /** Counts the heartbeat reads, for tests and measurements. */
  reads = 0;

  constructor(
    private readonly readNodes: () => Promise<NodeBeat[]>,
    options: FeedOptions = {},
  ) {
    this.tickMs = options.tickMs ?? 1000;
    this.historyMs = options.historyMs ?? 10 * 60_000;
  }

  get viewers(): number {
    return this.listeners.size;
  }

  /** Listens to every tick from now on (the latest at once, if there is one); returns the way to stop. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.latest) listener(this.latest);
    if (this.timer === undefined && !this.reading) this.schedule(0);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Each live node's samples, oldest first. */
  samples(): Record<string, readonly NodeSample[]> {
    return Object.fromEntries(this.history);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.latest = undefined;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.reading = true;
    const started = Date.now();
    let tick: FeedTick;
    try {
      this.reads++;
      tick = this.absorb(await this.readNodes(), started);
    } catch {
      // Redis is unreachable: the last known state, marked as such.
      tick = new FeedTick(started, false, this.lastNodes, this.lastProcesses, this.lastTrees);
    } finally {
      this.reading = false;
    }
    if (this.listeners.size === 0) return;
    this.latest = tick;
    for (const listener of this.listeners) listener(tick);
    // A listener may have been the last to leave, or a new one may have restarted the ticks.
    if (this.listeners.size > 0 && this.timer === undefined) {
      this.schedule(Math.max(0, this.tickMs - (Date.now() - started)));
    }
  }

  private absorb(beats: readonly NodeBeat[], now: number): FeedTick {
    const live = new Set(beats.map((beat) => beat.node));
    for (const node of this.history.keys()) if (!live.has(node)) this.history.delete(node);
    const pids = new Set<string>();
    const nodes: ConsoleNode[] = [];
    const processes: ConsoleProcess[] = [];
    const trees: NodeTree[] = [];
    for (const beat of beats) {
      if (beat.tree) trees.push({ node: beat.node, tree: beat.tree });
      const samples = this.history.get(beat.node) ?? [];
      const sample = sampleOf(beat);
      if (samples.at(-1)?.at !== beat.at) samples.push(sample);
      while ((samples[0]?.at ?? now) < now - this.historyMs) samples.shift();
      this.history.set(beat.node, samples);
      const list = beat.processes ?? [];
      nodes.push({
        node: beat.node,
        lastSeen: new Date(beat.at).toISOString(),
        stats: beat.stats,
        processes: list.length,
        sample,
      });
      for (const process of list) {
        pids.add(process.pid);
        const firstSeenAt = this.firstSeen.get(process.pid) ?? now;
        this.firstSeen.set(process.pid, firstSeenAt);
        processes.push({ ...process, ...beat.relations?.[process.pid], node: beat.node, firstSeenAt });
      }
    }
    for (const pid of this.firstSeen.keys()) if (!pids.has(pid)) this.firstSeen.delete(pid);
    this.lastNodes = nodes;
    this.lastProcesses = processes;
    this.lastTrees = trees;
    return new FeedTick(now, true, nodes, processes, trees);
  }
}
