import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
}

interface ChartProps {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  /** x (unix seconds) first, then one array per series. */
  readonly data: uPlot.AlignedData;
  readonly unit?: string;
  readonly range?: [number, number];
}

const HEIGHT = 140;

const darkMode = () => window.matchMedia('(prefers-color-scheme: dark)').matches;

/** A live uPlot line chart: created once, its data replaced as samples arrive. */
export function Chart({ title, series, data, unit = '', range }: ChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const ink = darkMode() ? '#c9d1d9' : '#24292f';
    const grid = darkMode() ? '#30363d' : '#e5e7eb';
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    plot.current = new uPlot(
      {
        width: Math.max(240, element.clientWidth),
        height: HEIGHT,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: range ? { range } : { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [axis, { ...axis, size: 50, values: (_u, ticks) => ticks.map((tick) => `${tick}${unit}`) }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, points: { show: false } }))],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(240, element.clientWidth), height: HEIGHT }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series, unit, range]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={container} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}
