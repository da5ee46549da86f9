import createFetchClient, { type Client } from 'openapi-fetch';
import { BeamlineApiError, BeamlineConnectionError } from './errors.js';
import { jobEvents } from './job-events.js';
import type {
  AllPaths,
  Cancellation,
  ClusterNode,
  DeadLetters,
  Delivery,
  FunctionDefaults,
  FunctionDetails,
  FunctionListEntry,
  FunctionPause,
  FunctionVersion,
  Job,
  JobEvent,
  JobLogs,
  JobPage,
  JobState,
  JobSubmission,
  ProcessEntry,
  QueueDepth,
  Schedule,
  ScheduleDefinition,
  ScheduleListEntry,
} from './types.js';

export interface ClientOptions {
  /** The API's base URL, e.g. `http://localhost:3000`. */
  readonly url: string;
  /** An API key; it decides the tenant everything belongs to. */
  readonly apiKey: string;
  /** The fetch to use; the global one by default. */
  readonly fetch?: typeof globalThis.fetch;
}

export interface JobListQuery {
  readonly state?: JobState;
  readonly function?: string;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** Page size, 1–100 (default 20). */
  readonly limit?: number;
}

export interface WaitOptions {
  /** How long to wait in all; without it, until the job ends. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface DeployResult extends FunctionVersion {
  /** False when the code is identical to the latest version (no new version was made). */
  readonly created: boolean;
}

/** The longest long poll the API accepts. */
const MAX_POLL_MS = 60_000;

/** A typed client of the Beamline REST API. Every failure is a BeamlineApiError or a BeamlineConnectionError. */
export interface BeamlineClient {
  readonly jobs: {
    submit(job: JobSubmission, options?: { readonly idempotencyKey?: string }): Promise<Job>;
    submitBatch(jobs: readonly JobSubmission[]): Promise<Job[]>;
    /**
     * Submits a job and waits for it to end, in one request when it ends within a minute
     * (`Prefer: wait`); returns it ended, or as it stands when `timeoutMs` passes first.
     */
    run(job: JobSubmission, options?: WaitOptions & { readonly idempotencyKey?: string }): Promise<Job>;
    get(id: string): Promise<Job>;
    list(query?: JobListQuery): Promise<JobPage>;
    /** Removes a job that has not started, or kills it where it runs (its state becomes `cancelled`). */
    cancel(id: string): Promise<Cancellation>;
    /** Retries a failed or cancelled job. */
    retry(id: string): Promise<Job>;
    /** The job once it has ended; or, when `timeoutMs` passes first, as it stands (check `state`). */
    wait(id: string, options?: WaitOptions): Promise<Job>;
    logs(id: string, page?: { readonly offset?: number; readonly limit?: number }): Promise<JobLogs>;
  };
  /** The job's events as they happen: state changes, progress, log lines, then `end` with the ended job. */
  events(jobId: string, options?: { readonly signal?: AbortSignal }): AsyncGenerator<JobEvent, void, undefined>;
  readonly functions: {
    /** Deploys `code` (one ES module whose default export is the function) as a new version of `name`. */
    deploy(name: string, code: string, options?: { readonly defaults?: FunctionDefaults }): Promise<DeployResult>;
    list(): Promise<FunctionListEntry[]>;
    get(name: string): Promise<FunctionDetails>;
    delete(name: string): Promise<void>;
    /** Pauses your function: its jobs are accepted and wait, none starts; running ones go on. */
    pause(name: string): Promise<FunctionPause>;
    /** Resumes your paused function: its waiting jobs start again. */
    resume(name: string): Promise<FunctionPause>;
  };
  readonly processes: {
    /** Live job processes across the cluster (from the nodes' heartbeats, a few seconds old at most). */
    list(): Promise<ProcessEntry[]>;
    /** Puts `message` in the process's mailbox, for its `ctx.receive()`. */
    send(pid: string, message: unknown): Promise<Delivery>;
    /** Kills the process (reason `killed`); its job is retried as its policy says. */
    kill(pid: string): Promise<Delivery>;
  };
  readonly cluster: {
    /** Live worker nodes with their scheduler's figures (admin key only). */
    nodes(): Promise<ClusterNode[]>;
    /** Queue depth by state (admin key only). */
    queues(): Promise<QueueDepth[]>;
  };
  readonly deadLetters: {
    list(): Promise<DeadLetters['deadLetters']>;
    requeue(id: string): Promise<Job>;
  };
  readonly schedules: {
    /** Creates the schedule, or replaces yours of the same id (`created` says which). */
    upsert(definition: ScheduleDefinition): Promise<Schedule & { readonly created: boolean }>;
    list(): Promise<ScheduleListEntry[]>;
    get(id: string): Promise<Schedule>;
    /** Stops it producing runs; its next run, if not started, is removed. */
    pause(id: string): Promise<Schedule>;
    /** Runs it again from now. */
    resume(id: string): Promise<Schedule>;
    /** Deletes it with its next run not started. */
    delete(id: string): Promise<void>;
  };
  /** The underlying openapi-fetch client, typed from the OpenAPI document, for anything else. */
  readonly raw: Client<AllPaths>;
}

interface FetchResult {
  readonly data?: unknown;
  readonly error?: unknown;
  readonly response: Response;
}

export function createClient(options: ClientOptions): BeamlineClient {
  const baseUrl = checkedUrl(options.url);
  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
    throw new TypeError('createClient needs an apiKey (a key from BEAMLINE_API_KEYS on the API).');
  }
  const raw = createFetchClient<AllPaths>({
    baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  /** Runs a request; a failure to reach the API becomes a BeamlineConnectionError. */
  async function send<R extends FetchResult>(request: () => Promise<R>): Promise<R> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof TypeError) throw new BeamlineConnectionError(baseUrl, error);
      throw error;
    }
  }

  /**
   * The body of a successful response (or of one whose status `accept` takes); anything else throws
   * BeamlineApiError, whose detail `explain` may give when the body has none.
   */
  async function ok<T>(
    request: () => Promise<FetchResult>,
    { accept, explain }: { accept?: (status: number) => boolean; explain?: (body: unknown) => string | undefined } = {},
  ): Promise<T> {
    const { data, error, response } = await send(request);
    if (response.ok) return data as T;
    if (accept?.(response.status)) return error as T;
    const detail = explain?.(error);
    const body =
      detail === undefined
        ? error
        : { title: response.statusText, status: response.status, ...(error as object), detail };
    throw new BeamlineApiError(response.status, body, response.headers);
  }

  const jobs: BeamlineClient['jobs'] = {
    submit: (job, { idempotencyKey } = {}) =>
      ok<Job>(() =>
        raw.POST('/v1/jobs', {
          body: job,
          params: { header: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey } },
        }),
      ),
    run: async (job, { idempotencyKey, timeoutMs, signal } = {}) => {
      const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
      const waitS = Math.min(MAX_POLL_MS, Math.max(0, deadline - Date.now())) / 1000;
      const header = {
        Prefer: `wait=${Number(waitS.toFixed(3))}`,
        ...(idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey }),
      };
      const submitted = await ok<Job>(() =>
        raw.POST('/v1/jobs', { body: job, params: { header }, ...(signal ? { signal } : {}) }),
      );
      if (ENDED.has(submitted.state) || Date.now() >= deadline) return submitted;
      return jobs.wait(submitted.id, {
        ...(timeoutMs === undefined ? {} : { timeoutMs: Math.max(0, deadline - Date.now()) }),
        ...(signal ? { signal } : {}),
      });
    },
    submitBatch: async (list) =>
      (await ok<{ jobs: Job[] }>(() => raw.POST('/v1/jobs/batch', { body: { jobs: [...list] } }))).jobs,
    get: (id) => ok<Job>(() => raw.GET('/v1/jobs/{id}', { params: { path: { id } } })),
    list: (query = {}) => ok<JobPage>(() => raw.GET('/v1/jobs', { params: { query: withoutUndefined(query) } })),
    cancel: (id) =>
      ok<Cancellation>(() => raw.DELETE('/v1/jobs/{id}', { params: { path: { id } } }), {
        explain: (body) => {
          const state = (body as Partial<Cancellation> | undefined)?.job?.state;
          return state && `Job ${id} has already ended (${state}); there is nothing to cancel.`;
        },
      }),
    retry: (id) => ok<Job>(() => raw.POST('/v1/jobs/{id}/retry', { params: { path: { id } } })),
    wait: async (id, { timeoutMs, signal } = {}) => {
      const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
      for (;;) {
        const pollMs = Math.max(0, Math.min(MAX_POLL_MS, deadline - Date.now()));
        const job = await ok<Job>(
          () =>
            raw.GET('/v1/jobs/{id}/wait', {
              params: { path: { id }, query: { timeoutMs: pollMs } },
              ...(signal ? { signal } : {}),
            }),
          { accept: (status) => status === 408 },
        );
        if (ENDED.has(job.state) || Date.now() >= deadline) return job;
      }
    },
    logs: (id, page = {}) =>
      ok<JobLogs>(() => raw.GET('/v1/jobs/{id}/logs', { params: { path: { id }, query: withoutUndefined(page) } })),
  };

  const openEventStream = async (jobId: string, signal: AbortSignal) => {
    const stream = await ok<ReadableStream<Uint8Array> | null>(() =>
      raw.GET('/v1/jobs/{id}/events', {
        params: { path: { id: jobId } },
        parseAs: 'stream',
        headers: { accept: 'text/event-stream' },
        signal,
      }),
    );
    if (!stream) throw new BeamlineConnectionError(baseUrl, new Error('the event stream had no body'));
    return stream;
  };

  return {
    jobs,
    events: (jobId, eventOptions = {}) => jobEvents(openEventStream, jobId, eventOptions),
    functions: {
      deploy: async (name, code, { defaults } = {}) => {
        const { data, error, response } = await send(() =>
          raw.PUT('/v1/functions/{name}', {
            params: { path: { name } },
            // Plain source when there is nothing else to send: no JSON escaping eats into the size limit.
            ...(defaults === undefined
              ? { body: code, headers: { 'content-type': 'application/javascript' } }
              : { body: { code, defaults } }),
            bodySerializer: (body) => (typeof body === 'string' ? body : JSON.stringify(body)),
          }),
        );
        if (!response.ok) throw new BeamlineApiError(response.status, error, response.headers);
        return { ...(data as FunctionVersion), created: response.status === 201 };
      },
      list: async () => (await ok<{ functions: FunctionListEntry[] }>(() => raw.GET('/v1/functions'))).functions,
      get: (name) => ok<FunctionDetails>(() => raw.GET('/v1/functions/{name}', { params: { path: { name } } })),
      delete: async (name) => {
        await ok<void>(() => raw.DELETE('/v1/functions/{name}', { params: { path: { name } } }));
      },
      pause: (name) => ok<FunctionPause>(() => raw.POST('/v1/functions/{name}/pause', { params: { path: { name } } })),
      resume: (name) =>
        ok<FunctionPause>(() => raw.POST('/v1/functions/{name}/resume', { params: { path: { name } } })),
    },
    processes: {
      list: async () => (await ok<{ processes: ProcessEntry[] }>(() => raw.GET('/v1/processes'))).processes,
      send: (pid, message) =>
        ok<Delivery>(() => raw.POST('/v1/processes/{pid}/messages', { params: { path: { pid } }, body: { message } })),
      kill: (pid) => ok<Delivery>(() => raw.DELETE('/v1/processes/{pid}', { params: { path: { pid } } })),
    },
    cluster: {
      nodes: async () => (await ok<{ nodes: ClusterNode[] }>(() => raw.GET('/v1/nodes'))).nodes,
      queues: async () => (await ok<{ queues: QueueDepth[] }>(() => raw.GET('/v1/queues'))).queues,
    },
    deadLetters: {
      list: async () => (await ok<DeadLetters>(() => raw.GET('/v1/dead-letters'))).deadLetters,
      requeue: (id) => ok<Job>(() => raw.POST('/v1/dead-letters/{id}/requeue', { params: { path: { id } } })),
    },
    schedules: {
      upsert: async (definition) => {
        const { data, error, response } = await send(() => raw.POST('/v1/schedules', { body: definition }));
        if (!response.ok) throw new BeamlineApiError(response.status, error, response.headers);
        return { ...(data as Schedule), created: response.status === 201 };
      },
      list: async () => (await ok<{ schedules: ScheduleListEntry[] }>(() => raw.GET('/v1/schedules'))).schedules,
      get: (id) => ok<Schedule>(() => raw.GET('/v1/schedules/{id}', { params: { path: { id } } })),
      pause: (id) => ok<Schedule>(() => raw.POST('/v1/schedules/{id}/pause', { params: { path: { id } } })),
      resume: (id) => ok<Schedule>(() => raw.POST('/v1/schedules/{id}/resume', { params: { path: { id } } })),
      delete: async (id) => {
        await ok<void>(() => raw.DELETE('/v1/schedules/{id}', { params: { path: { id } } }));
      },
    },
    raw,
  };
}

const ENDED: ReadonlySet<JobState> = new Set<JobState>(['completed', 'failed', 'cancelled']);

/** Whether a job has ended for good (completed, failed or cancelled). */
export function hasEnded(job: Pick<Job, 'state'>): boolean {
  return ENDED.has(job.state);
}

function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `The API URL must be an http:// or https:// URL such as http://localhost:3000; got ${JSON.stringify(url)}.`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(
      `The API URL must be an http:// or https:// URL such as http://localhost:3000; got ${JSON.stringify(url)}.`,
    );
  }
  return parsed.href.replace(/\/+$/, '');
}

/** The fields that are set (exactOptionalPropertyTypes: a query has no `undefined` values). */
function withoutUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
