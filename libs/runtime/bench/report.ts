import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { Summary } from './stats.js';

/** One line of a benchmark table: Beamline's figure against a baseline measured in the same run. */
export interface Row {
  readonly name: string;
  readonly unit: string;
  readonly beamline: Summary;
  readonly baseline: Summary;
  readonly baselineName: string;
  readonly target: string;
  readonly met: boolean | undefined;
}

export function scale(s: Summary, factor: number): Summary {
  return { median: s.median * factor, min: s.min * factor, max: s.max * factor, runs: s.runs };
}

export function fmt(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

export function machine(runs: number) {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    runs,
    date: new Date().toISOString(),
  };
}

/** Prints the rows as a Markdown table and writes them, with the machine, to `file` (relative to bench/). */
export function report(title: string, rows: readonly Row[], runs: number, file: string, extra: object = {}): void {
  const about = machine(runs);
  console.log(`\n${title} — ${about.cores} cores, ${about.cpu}, Node ${about.node}, ${runs} runs\n`);
  console.log('| measure | Beamline (median, min–max) | baseline (median) | ratio | target | met |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const ratio = row.beamline.median / row.baseline.median;
    const met = row.met === undefined ? '—' : row.met ? 'yes' : 'no';
    console.log(
      `| ${row.name} | ${fmt(row.beamline.median)} ${row.unit} (${fmt(row.beamline.min)}–${fmt(row.beamline.max)}) | ${fmt(row.baseline.median)} ${row.unit} (${row.baselineName}) | ${fmt(ratio)}× | ${row.target} | ${met} |`,
    );
  }
  writeFileSync(
    new URL(`../../bench/${file}`, import.meta.url),
    `${JSON.stringify({ machine: about, rows, ...extra }, null, 2)}\n`,
  );
}
