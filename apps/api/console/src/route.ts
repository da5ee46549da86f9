export type View =
  | 'nodes'
  | 'supervision'
  | 'processes'
  | 'process'
  | 'jobs'
  | 'job'
  | 'schedules'
  | 'schedule'
  | 'functions'
  | 'dead-letters';

export interface Route {
  readonly view: View;
  readonly id?: string;
  readonly query: URLSearchParams;
}

/** The view a location hash names (#/jobs/42, #/processes/w1.7, #/jobs?function=cpu); `fallback` when it names none. */
export function parseRoute(hash: string, fallback: View): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [first, id] = path.split('/');
  const query = new URLSearchParams(search);
  if (first === 'jobs' && id) return { view: 'job', id: decodeURIComponent(id), query };
  if (first === 'processes' && id) return { view: 'process', id: decodeURIComponent(id), query };
  if (first === 'schedules' && id) return { view: 'schedule', id: decodeURIComponent(id), query };
  const views: readonly View[] = [
    'nodes',
    'supervision',
    'processes',
    'jobs',
    'schedules',
    'functions',
    'dead-letters',
  ];
  return { view: views.includes(first as View) ? (first as View) : fallback, query };
}

export const processHref = (pid: string): string => `#/processes/${encodeURIComponent(pid)}`;
export const jobHref = (id: string): string => `#/jobs/${encodeURIComponent(id)}`;
export const scheduleHref = (id: string): string => `#/schedules/${encodeURIComponent(id)}`;
