import { writeFileSync } from 'node:fs';
import { DASHBOARDS } from './dashboards.js';

/** Writes the dashboards as Grafana JSON into infra/grafana/dashboards (run by `npm run generate`). */
const dir = new URL('../grafana/dashboards/', import.meta.url);
for (const [name, dashboard] of Object.entries(DASHBOARDS)) {
  writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(dashboard, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(DASHBOARDS).length} dashboards to ${dir.pathname}`);
