import type { ProcessEntry } from '../../client/types.js';
import { defineCommand } from '../command.js';
import { formatBytes, formatDuration, table } from '../format.js';
import { readJsonArgument } from '../values.js';

export const psCommand = defineCommand({
  path: ['ps'],
  args: [],
  summary: 'List live job processes across the cluster (as the nodes reported them, ≤ 5 s ago).',
  options: {},
  async run({ out, client }) {
    const processes = await client().processes.list();
    out.result({ processes }, () => (processes.length === 0 ? 'no live processes' : processTable(processes)));
    return 0;
  },
});

export const killCommand = defineCommand({
  path: ['kill'],
  args: ['pid'],
  summary: 'Kill a job process (exit reason killed); its job is retried as its policy says.',
  options: {},
  async run({ args, out, client }) {
    const delivery = await client().processes.kill(args[0] as string);
    out.result(delivery, () => `kill sent to ${delivery.pid} (job ${delivery.jobId})`);
    return 0;
  },
});

export const sendCommand = defineCommand({
  path: ['send'],
  args: ['pid', 'message'],
  summary: "Send a message (JSON, or @file) to a job process's mailbox: what its ctx.receive() returns.",
  options: {},
  async run({ args, out, client }) {
    const message = readJsonArgument(args[1] as string, 'the message');
    const delivery = await client().processes.send(args[0] as string, message);
    out.result(delivery, () => `message sent to ${delivery.pid} (job ${delivery.jobId})`);
    return 0;
  },
});

/** Processes as a table, busiest (most CPU time) first. */
export function processTable(processes: readonly ProcessEntry[]): string {
  const rows = [...processes]
    .sort((a, b) => (b.cpuTimeNs ?? 0) - (a.cpuTimeNs ?? 0))
    .map((p) => [
      p.pid,
      p.jobId ?? '-',
      p.function ?? '-',
      p.status ?? '-',
      p.priority ?? '-',
      p.cpuTimeNs === undefined ? '-' : formatDuration(p.cpuTimeNs / 1e6),
      formatBytes(p.memory),
      String(p.messageQueueLength ?? '-'),
    ]);
  return table(['PID', 'JOB', 'FUNCTION', 'STATUS', 'PRIORITY', 'CPU', 'MEMORY', 'MAILBOX'], rows);
}
