import type uPlot from 'uplot';
import { percent } from '../format.js';
import type { NodeHistory } from '../node-history.js';
import { type ConsoleNode, type NodeSample, PRIORITIES } from '../types.js';
import { Chart, type ChartSeries } from './chart.js';

const PRIORITY_COLORS = ['#d9480f', '#e8a317', '#1c7ed6', '#868e96'];
const BY_PRIORITY: readonly ChartSeries[] = PRIORITIES.map((label, i) => ({
  label,
  color: PRIORITY_COLORS[i] as string,
}));
const STATUSES = ['running', 'runnable', 'waiting', 'exiting'] as const;
const BY_STATUS: readonly ChartSeries[] = STATUSES.map((label, i) => ({ label, color: PRIORITY_COLORS[i] as string }));
const UTILIZATION: readonly ChartSeries[] = [{ label: 'utilization', color: '#2f9e44' }];
const LAG: readonly ChartSeries[] = [
  { label: 'p50', color: '#1c7ed6' },
  { label: 'p99', color: '#e8a317' },
  { label: 'max', color: '#d9480f' },
];
const PERCENT_RANGE: [number, number] = [0, 100];

const seconds = (samples: readonly NodeSample[]) => samples.map((s) => s.at / 1000);

/** CPU seconds per second by priority between consecutive samples: the cores each priority used. */
function cpuRates(samples: readonly NodeSample[]): number[][] {
  return PRIORITIES.map((priority) =>
    samples.map((sample, i) => {
      const before = samples[i - 1];
      if (!before) return 0;
      const used = (sample.cpuSecondsByPriority[priority] ?? 0) - (before.cpuSecondsByPriority[priority] ?? 0);
      return Math.max(0, used / ((sample.at - before.at) / 1000));
    }),
  );
}

function NodePanel({ node, samples }: { node: ConsoleNode; samples: readonly NodeSample[] }) {
  const x = seconds(samples);
  const data = (...series: number[][]): uPlot.AlignedData => [x, ...series];
  const { stats } = node;
  return (
    <section class="node" aria-labelledby={`node-${node.node}`}>
      <h3 id={`node-${node.node}`}>
        <span class="node-id">{node.node}</span>{' '}
        <span class="utilization" data-testid="utilization" title="Scheduler utilization">
          {percent(stats.utilization)}
        </span>
      </h3>
      <p class="muted">
        {stats.cores ?? '?'} cores · {node.processes} processes · {stats.live ?? 0} of {stats.maxProcesses ?? '?'}{' '}
        sandboxes · main thread {percent(stats.mainThread?.utilization)} busy · seen{' '}
        {new Date(node.lastSeen).toLocaleTimeString()}
      </p>
      <div class="charts">
        <Chart
          title="Scheduler utilization"
          series={UTILIZATION}
          unit="%"
          range={PERCENT_RANGE}
          data={data(samples.map((s) => (s.utilization ?? 0) * 100))}
        />
        <Chart
          title="Run queue by priority"
          series={BY_PRIORITY}
          data={data(...PRIORITIES.map((p) => samples.map((s) => s.runQueue[p] ?? 0)))}
        />
        <Chart title="CPU by priority (cores)" series={BY_PRIORITY} data={data(...cpuRates(samples))} />
        <Chart
          title="Processes by status"
          series={BY_STATUS}
          data={data(...STATUSES.map((status) => samples.map((s) => s.processesByStatus[status] ?? 0)))}
        />
        <Chart
          title="Main-thread event-loop lag"
          series={LAG}
          unit=" ms"
          data={data(
            samples.map((s) => s.lagMs?.p50 ?? 0),
            samples.map((s) => s.lagMs?.p99 ?? 0),
            samples.map((s) => s.lagMs?.max ?? 0),
          )}
        />
      </div>
    </section>
  );
}

export function NodesView({ nodes, history }: { nodes: readonly ConsoleNode[] | undefined; history: NodeHistory }) {
  if (!nodes) return <p>Waiting for the cluster…</p>;
  if (nodes.length === 0) return <p>No worker node is live: none has sent a heartbeat in the last 15 s.</p>;
  return (
    <div class="nodes">
      {nodes.map((node) => (
        <NodePanel key={node.node} node={node} samples={history.of(node.node)} />
      ))}
    </div>
  );
}
