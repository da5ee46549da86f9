import { type Dashboard, dashboard, variable } from './grafana.js';

const node = variable('node', 'Node', 'beamline_scheduler_utilization');
const fn = variable('function', 'Function', 'beamline_jobs_completed_total');
const N = 'node=~"$node"';
const F = 'function=~"$function"';
const R = '$__rate_interval';

const quantiles = (metric: string, by = '') =>
  (['0.5', '0.95', '0.99'] as const).map(
    (q) =>
      [
        `histogram_quantile(${q}, sum by (le${by}) (rate(${metric}_bucket{${F}}[${R}])))`,
        `p${Number(q) * 100}${by ? ` {{${by.replace(', ', '')}}}` : ''}`,
      ] as const,
  );

export const overview: Dashboard = dashboard(
  'beamline-overview',
  'Beamline — Overview',
  [fn],
  [
    {
      title: 'Jobs submitted per second',
      unit: 'reqps',
      queries: [[`sum(rate(beamline_jobs_submitted_total[${R}]))`, 'submitted']],
    },
    {
      title: 'Jobs completed per second by function',
      unit: 'reqps',
      queries: [[`sum by (function) (rate(beamline_jobs_completed_total{${F}}[${R}]))`, '{{function}}']],
    },
    {
      title: 'Job runs failed per second by function',
      unit: 'reqps',
      queries: [
        [`sum by (function, reason) (rate(beamline_jobs_failed_total{${F}}[${R}]))`, '{{function}} {{reason}}'],
      ],
    },
    { title: 'Run time (p50, p95, p99)', unit: 's', queries: quantiles('beamline_job_run_seconds') },
    { title: 'Wait time (p50, p95, p99)', unit: 's', queries: quantiles('beamline_job_wait_seconds') },
    { title: 'Queue depth by state', queries: [['max by (state) (beamline_queue_depth)', '{{state}}']] },
    {
      title: 'Dead letters',
      type: 'stat',
      queries: [['max(beamline_queue_depth{state="failed"})', 'failed jobs']],
      width: 6,
    },
    {
      title: 'API requests per second by route',
      unit: 'reqps',
      queries: [[`sum by (route) (rate(beamline_http_request_duration_seconds_count[${R}]))`, '{{route}}']],
      width: 18,
    },
    {
      title: 'API errors per second by status',
      unit: 'reqps',
      queries: [
        [`sum by (status) (rate(beamline_http_request_duration_seconds_count{status=~"[45].."}[${R}]))`, '{{status}}'],
      ],
    },
    {
      title: 'API latency p99 by route',
      unit: 's',
      queries: [
        [
          `histogram_quantile(0.99, sum by (le, route) (rate(beamline_http_request_duration_seconds_bucket[${R}])))`,
          '{{route}}',
        ],
      ],
    },
  ],
);

export const schedulers: Dashboard = dashboard(
  'beamline-schedulers',
  'Beamline — Schedulers',
  [node],
  [
    {
      title: 'Scheduler utilization per node',
      description: 'CPU time of isolated-process threads / (cores × wall time): the BEAM scheduler_wall_time analogue.',
      unit: 'percentunit',
      max: 1,
      queries: [[`beamline_scheduler_utilization{${N}}`, '{{node}}']],
    },
    {
      title: 'Utilization across nodes',
      type: 'heatmap',
      unit: 'percentunit',
      queries: [[`beamline_scheduler_utilization{${N}}`, '{{node}}']],
    },
    {
      title: 'Run queue length by priority',
      queries: [[`sum by (priority) (beamline_run_queue_length{${N}})`, '{{priority}}']],
    },
    {
      title: 'CPU seconds per second by priority',
      unit: 's',
      queries: [[`sum by (priority) (rate(beamline_process_cpu_seconds_total{${N}}[${R}]))`, '{{priority}}']],
    },
    {
      title: 'Control-plane event-loop lag',
      unit: 's',
      queries: [[`max by (node, quantile) (beamline_control_plane_lag_seconds{${N}})`, '{{node}} q{{quantile}}']],
    },
    {
      title: 'Control-plane event-loop utilization',
      unit: 'percentunit',
      max: 1,
      queries: [[`beamline_control_plane_utilization{${N}}`, '{{node}}']],
    },
    {
      title: 'Isolate pool: busy, warm, pre-started threads',
      queries: [[`sum by (state) (beamline_isolate_pool_threads{${N}})`, '{{state}}']],
    },
    {
      title: 'Priorities enforced (nice values applied)',
      type: 'stat',
      queries: [[`min(beamline_priorities_enforced{${N}})`, 'enforced']],
    },
  ],
);

export const processes: Dashboard = dashboard(
  'beamline-processes',
  'Beamline — Processes and supervision',
  [node, fn],
  [
    {
      title: 'Live processes by kind and status',
      queries: [[`sum by (kind, status) (beamline_processes{${N}})`, '{{kind}} {{status}}']],
    },
    {
      title: 'Process exits per second by reason',
      queries: [[`sum by (reason) (rate(beamline_process_exits_total{${N}}[${R}]))`, '{{reason}}']],
    },
    {
      title: 'Kills per second by reason',
      queries: [[`sum by (reason) (rate(beamline_kills_total{${N}}[${R}]))`, '{{reason}}']],
    },
    {
      title: 'Restarts',
      queries: [
        [`sum by (function) (rate(beamline_job_restarts_total{${N}, ${F}}[${R}]))`, 'job restarts {{function}}'],
        [`sum(rate(beamline_supervisor_restarts_total{${N}}[${R}]))`, 'supervisor restarts'],
      ],
    },
    {
      title: 'Supervisor intensity exhausted',
      type: 'stat',
      queries: [[`sum(beamline_supervisor_intensity_exhausted_total{${N}})`, 'exhausted']],
      width: 6,
    },
    {
      title: 'Top functions by CPU time',
      type: 'bargauge',
      unit: 's',
      queries: [
        [`topk(10, sum by (function) (rate(beamline_job_cpu_seconds_total{${N}, ${F}}[${R}])))`, '{{function}}'],
      ],
      width: 18,
    },
    {
      title: 'Stalled jobs recovered per second',
      queries: [[`sum(rate(beamline_jobs_stalled_total{${N}}[${R}]))`, 'stalled']],
    },
    {
      title: 'Process spawns per second by kind',
      queries: [[`sum by (kind) (rate(beamline_process_spawns_total{${N}}[${R}]))`, '{{kind}}']],
    },
  ],
);

export const DASHBOARDS = { overview, schedulers, processes } as const;
