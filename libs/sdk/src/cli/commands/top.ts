import type { BeamlineClient } from '../../client/client.js';
import { BeamlineApiError } from '../../client/errors.js';
import type { ClusterNode, ProcessEntry } from '../../client/types.js';
import { defineCommand } from '../command.js';
import { formatDuration, formatPercent } from '../format.js';
import { readWholeNumber } from '../values.js';
import { processTable } from './processes.js';

interface Snapshot {
  readonly at: string;
  /** Undefined when the key is not the admin's: the API shows scheduler figures to the admin only. */
  readonly nodes: ClusterNode[] | undefined;
  readonly processes: ProcessEntry[];
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export const topCommand = defineCommand({
  path: ['top'],
  args: [],
  summary: 'Watch the cluster live: per node, scheduler utilization, run queue by priority, busiest processes.',
  details: [
    'Scheduler figures come from GET /v1/nodes, which needs the admin key; with another key, top shows',
    'your processes only. The nodes report every few seconds, so figures move at that pace.',
  ].join('\n'),
  options: {
    interval: { type: 'string', value: 'MS', description: 'refresh period (default 1000)' },
    once: { type: 'boolean', description: 'print one screen and exit' },
    processes: { type: 'string', value: 'N', description: 'busiest processes shown per node (default 10)' },
  },
  async run({ options, out, client, signal }) {
    const intervalMs = readWholeNumber(options.interval, 'interval', 100, 3_600_000) ?? 1000;
    const perNode = readWholeNumber(options.processes, 'processes', 0, 10_000) ?? 10;
    const api = client();
    const view = new ClusterView(api);
    for (;;) {
      const snapshot = await view.snapshot();
      if (out.json) out.jsonLine(snapshot);
      else out.text(`${out.interactive && !options.once ? CLEAR_SCREEN : ''}${render(snapshot, perNode, intervalMs)}`);
      if (options.once || signal.aborted) return 0;
      await sleep(intervalMs, signal);
      if (signal.aborted) return 0;
    }
  },
});

/** Reads the cluster; stops asking for node figures once the API has said they are the admin's. */
class ClusterView {
  private nodesAllowed = true;

  constructor(private readonly api: BeamlineClient) {}

  async snapshot(): Promise<Snapshot> {
    const [nodes, processes] = await Promise.all([this.nodes(), this.api.processes.list()]);
    return { at: new Date().toISOString(), nodes, processes };
  }

  private async nodes(): Promise<ClusterNode[] | undefined> {
    if (!this.nodesAllowed) return undefined;
    try {
      return await this.api.cluster.nodes();
    } catch (error) {
      if (!(error instanceof BeamlineApiError) || error.status !== 403) throw error;
      this.nodesAllowed = false;
      return undefined;
    }
  }
}

function render(snapshot: Snapshot, perNode: number, intervalMs: number): string {
  const byNode = new Map<string, ProcessEntry[]>();
  for (const node of snapshot.nodes ?? []) byNode.set(node.node, []);
  for (const p of snapshot.processes) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  const time = snapshot.at.slice(11, 19);
  const lines = [
    `beamline top · ${byNode.size} node${byNode.size === 1 ? '' : 's'} · ${snapshot.processes.length} processes · ${time} · every ${formatDuration(intervalMs)}`,
  ];
  if (snapshot.nodes === undefined) lines.push('(scheduler figures need the admin key: showing your processes only)');
  for (const [id, processes] of byNode) {
    lines.push('');
    const node = snapshot.nodes?.find((n) => n.node === id);
    lines.push(node ? nodeHeader(node) : `node ${id}`);
    const busiest = processes.slice().sort((a, b) => (b.cpuTimeNs ?? 0) - (a.cpuTimeNs ?? 0));
    if (perNode > 0 && busiest.length > 0) {
      lines.push(indent(processTable(busiest.slice(0, perNode))));
      if (busiest.length > perNode) lines.push(`  … and ${busiest.length - perNode} more`);
    }
  }
  return lines.join('\n');
}

function nodeHeader(node: ClusterNode): string {
  const s = node.stats;
  const seen = formatDuration(Date.now() - Date.parse(node.lastSeen));
  const main = s.mainThread
    ? `  main thread ${formatPercent(s.mainThread.utilization)}, lag p99 ${formatDuration(s.mainThread.lagMs.p99)}`
    : '';
  const queue = s.runQueue
    ? `run queue: max ${s.runQueue.max}  high ${s.runQueue.high}  normal ${s.runQueue.normal}  low ${s.runQueue.low}`
    : 'run queue: -';
  return [
    `node ${node.node}  (seen ${seen} ago)`,
    `  utilization ${formatPercent(s.utilization)} of ${s.cores ?? '?'} cores${main}`,
    `  live ${s.live ?? '?'}/${s.maxProcesses ?? '?'}  ${queue}`,
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
