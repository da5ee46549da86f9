import { defineFunction } from '@beamline/sdk';

/** What the function expects: where the tasks are (a JSON array, as https://jsonplaceholder.typicode.com/todos). */
export interface Input {
  readonly url: string;
  /** Give up on the request after this long (default 10 s). */
  readonly timeoutMs?: number;
}

interface Task {
  readonly userId: number;
  readonly id: number;
  readonly title: string;
  readonly completed: boolean;
}

export interface AssigneeReport {
  readonly userId: number;
  readonly done: number;
  readonly open: number;
  /** Share of the assignee's tasks that are done, 0–1, two decimals. */
  readonly ratio: number;
  readonly nextUp: string | null;
}

export interface Output {
  readonly source: string;
  readonly tasks: number;
  /** Most open tasks first. */
  readonly assignees: AssigneeReport[];
}

function isTask(value: unknown): value is Task {
  const task = value as Partial<Task> | null;
  return (
    typeof task === 'object' &&
    task !== null &&
    typeof task.userId === 'number' &&
    typeof task.id === 'number' &&
    typeof task.title === 'string' &&
    typeof task.completed === 'boolean'
  );
}

/** GETs `url` as JSON, giving up after `timeoutMs` or when the job ends (cancelled, killed, timed out). */
async function getJson(url: URL, timeoutMs: number, jobSignal: AbortSignal): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`${url.host} did not answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const stop = () => controller.abort(jobSignal.reason);
  jobSignal.addEventListener('abort', stop, { once: true });
  try {
    const response = await fetch(url, { signal: controller.signal, headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status} ${response.statusText}`);
    return await response.json();
  } finally {
    clearTimeout(timer);
    jobSignal.removeEventListener('abort', stop);
  }
}

function report(userId: number, tasks: readonly Task[]): AssigneeReport {
  const done = tasks.filter((task) => task.completed).length;
  return {
    userId,
    done,
    open: tasks.length - done,
    ratio: Math.round((done / tasks.length) * 100) / 100,
    nextUp: tasks.find((task) => !task.completed)?.title ?? null,
  };
}

export default defineFunction<Input, Output>(async (input, ctx) => {
  const url = new URL(input.url);
  const body = await getJson(url, input.timeoutMs ?? 10_000, ctx.signal);
  if (!Array.isArray(body)) throw new Error(`GET ${url} did not answer a JSON array`);
  const tasks = body.filter(isTask);
  ctx.log(`fetched ${tasks.length} tasks from ${url.host} (${body.length - tasks.length} malformed entries skipped)`);

  const byUser = new Map<number, Task[]>();
  for (const task of tasks) byUser.set(task.userId, [...(byUser.get(task.userId) ?? []), task]);
  const assignees = [...byUser].map(([userId, own]) => report(userId, own));
  assignees.sort((a, b) => b.open - a.open || a.userId - b.userId);
  return { source: url.href, tasks: tasks.length, assignees };
});
