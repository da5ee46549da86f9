import type { ConsoleNode, History, NodeSample } from './types.js';

/** How far back the charts reach. */
export const HISTORY_MS = 10 * 60_000;

/** Each node's samples, from the stream's `history` event and then one per new heartbeat. */
export class NodeHistory {
  private readonly byNode = new Map<string, NodeSample[]>();

  reset(history: History): void {
    this.byNode.clear();
    for (const [node, samples] of Object.entries(history)) this.byNode.set(node, [...samples]);
  }

  /** Adds each node's latest sample if it is new; forgets nodes no longer live. */
  add(nodes: readonly ConsoleNode[], now = Date.now()): void {
    const live = new Set(nodes.map((n) => n.node));
    for (const node of this.byNode.keys()) if (!live.has(node)) this.byNode.delete(node);
    for (const { node, sample } of nodes) {
      const samples = this.byNode.get(node) ?? [];
      if (samples.at(-1)?.at !== sample.at) samples.push(sample);
      while ((samples[0]?.at ?? now) < now - HISTORY_MS) samples.shift();
      this.byNode.set(node, samples);
    }
  }

  /** Every node's samples, as a `history` event carries them. */
  toHistory(): History {
    return Object.fromEntries(this.byNode);
  }

  of(node: string): readonly NodeSample[] {
    return this.byNode.get(node) ?? [];
  }
}
