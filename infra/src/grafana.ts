/**
 * A typed subset of Grafana's dashboard JSON model (schemaVersion 39), enough for time series,
 * heatmap, stat and bar gauge panels over the Prometheus datasource.
 */
export interface Target {
  readonly expr: string;
  readonly legendFormat?: string;
  readonly refId: string;
}

export type PanelType = 'timeseries' | 'heatmap' | 'stat' | 'bargauge';

export interface Panel {
  readonly id: number;
  readonly type: PanelType;
  readonly title: string;
  readonly description?: string;
  readonly datasource: { readonly type: 'prometheus'; readonly uid: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets: readonly Target[];
  readonly fieldConfig: {
    readonly defaults: { readonly unit?: string; readonly min?: number; readonly max?: number };
    readonly overrides: [];
  };
  readonly options: Record<string, unknown>;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly schemaVersion: 39;
  readonly version: 1;
  readonly editable: true;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly Variable[] };
  readonly panels: readonly Panel[];
}

export interface Variable {
  readonly name: string;
  readonly label: string;
  readonly type: 'query';
  readonly datasource: { readonly type: 'prometheus'; readonly uid: string };
  readonly query: { readonly query: string; readonly refId: string };
  readonly definition: string;
  readonly includeAll: true;
  readonly multi: true;
  readonly allValue: '.*';
  readonly current: { readonly text: 'All'; readonly value: '$__all' };
  readonly refresh: 2;
}

export const DATASOURCE = { type: 'prometheus', uid: 'beamline-prometheus' } as const;

export interface PanelSpec {
  readonly title: string;
  readonly description?: string;
  readonly type?: PanelType;
  readonly unit?: string;
  readonly max?: number;
  /** PromQL and legend per series. `$node`, `$function` and `$__rate_interval` are Grafana's. */
  readonly queries: ReadonlyArray<readonly [expr: string, legend: string]>;
  readonly width?: number;
}

export function variable(name: string, label: string, metric: string): Variable {
  const definition = `label_values(${metric}, ${name})`;
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query: definition, refId: `${name}-values` },
    definition,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { text: 'All', value: '$__all' },
    refresh: 2,
  };
}

/** Lays panels out left to right, 24 columns wide, 8 rows high. */
export function dashboard(
  uid: string,
  title: string,
  variables: readonly Variable[],
  specs: readonly PanelSpec[],
): Dashboard {
  let x = 0;
  let y = 0;
  const panels = specs.map((spec, index): Panel => {
    const w = spec.width ?? 12;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const panel: Panel = {
      id: index + 1,
      type: spec.type ?? 'timeseries',
      title: spec.title,
      ...(spec.description ? { description: spec.description } : {}),
      datasource: DATASOURCE,
      gridPos: { x, y, w, h: 8 },
      targets: spec.queries.map(([expr, legendFormat], i) => ({
        expr,
        legendFormat,
        refId: String.fromCharCode(65 + i),
      })),
      fieldConfig: {
        defaults: {
          ...(spec.unit ? { unit: spec.unit } : {}),
          ...(spec.max !== undefined ? { min: 0, max: spec.max } : {}),
        },
        overrides: [],
      },
      options:
        spec.type === 'heatmap'
          ? { calculate: false, yAxis: { unit: spec.unit ?? 'percentunit' } }
          : { legend: { displayMode: 'list', placement: 'bottom' } },
    };
    x += w;
    return panel;
  });
  return {
    uid,
    title,
    tags: ['beamline'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    templating: { list: variables },
    panels,
  };
}
