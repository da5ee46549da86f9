import type { Job } from '../client/types.js';

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatPercent(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** A value on one line: strings as they are, anything else as JSON. */
export function inline(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

/** Columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** How long a job ran, from its timestamps. */
export function runTime(job: Job): number | undefined {
  if (!job.startedAt || !job.finishedAt) return undefined;
  return Date.parse(job.finishedAt) - Date.parse(job.startedAt);
}

/** Why an ended job did not complete: `error: boom`, `timeout`, `cancelled`. */
export function exitSummary(job: Job): string {
  const exit = job.exit;
  if (!exit) return job.state;
  return exit.message ? `${exit.reason ?? job.state}: ${exit.message}` : (exit.reason ?? job.state);
}

/** One line saying where a job stands. */
export function jobLine(job: Job): string {
  const where = job.state === 'running' && job.node ? ` on ${job.node}${job.pid ? ` (pid ${job.pid})` : ''}` : '';
  return `job ${job.id} ${job.state}${where}`;
}

/** A job in full, field per line, for `jobs get`. */
export function jobDetails(job: Job): string {
  const rows: [string, string | undefined][] = [
    ['id', job.id],
    ['state', job.state],
    ['function', `${job.function}@${job.version}`],
    ['priority', job.priority],
    ['attempts', `${job.attempts.made ?? 0} of ${job.attempts.max ?? '?'}`],
    ['pid', job.pid],
    ['node', job.node],
    ['progress', job.progress === undefined || job.progress === null ? undefined : inline(job.progress)],
    ['submitted', job.submittedAt],
    ['started', job.startedAt],
    ['finished', job.finishedAt],
    ['run time', job.finishedAt ? formatDuration(runTime(job)) : undefined],
    ['input', job.input === undefined ? undefined : inline(job.input)],
    ['result', job.state === 'completed' ? inline(job.result) : undefined],
    ['exit', job.exit ? exitSummary(job) : undefined],
    ['fault', job.exit?.fault],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([name]) => name.length));
  const lines = shown.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
  if (job.exit?.stack) lines.push('', job.exit.stack);
  return lines.join('\n');
}
