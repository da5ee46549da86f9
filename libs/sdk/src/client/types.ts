import type { paths } from '../generated/openapi.js';

/**
 * The API's types, taken from the OpenAPI document by path and method (the contract the client
 * calls), so that they follow the document when it is regenerated. Where the document does not
 * describe a response, the type falls back to the shape the route answers with.
 */

type Method = 'get' | 'put' | 'post' | 'delete';

type OperationOf<P extends keyof AllPaths, M extends Method> = AllPaths[P] extends { [K in M]?: infer Operation }
  ? NonNullable<Operation>
  : never;

/** The body of a response of `media` type, as the document describes it (never when it does not). */
type ResponseBody<
  P extends keyof AllPaths,
  M extends Method,
  S extends number,
  Media extends string = 'application/json',
> =
  OperationOf<P, M> extends { responses: infer Responses }
    ? S extends keyof Responses
      ? Responses[S] extends { content?: infer Content }
        ? NonNullable<Content> extends { [K in Media]: infer Body }
          ? Body
          : never
        : never
      : never
    : never;

/** The application/json request body of an operation, as the document describes it. */
type RequestBody<P extends keyof AllPaths, M extends Method> =
  OperationOf<P, M> extends {
    requestBody?: infer Body;
  }
    ? NonNullable<Body> extends { content: { 'application/json': infer Json } }
      ? Json
      : never
    : never;

/** The documented type when the OpenAPI document describes it, else `Fallback`. */
type Documented<T, Fallback> = [T] extends [never] ? Fallback : unknown extends T ? Fallback : T;

type JobLogsFallback = { logs: string[]; total: number; offset: number };

/** Paths the client calls that the OpenAPI document may not describe yet. */
interface UndocumentedPaths {
  '/v1/jobs/{id}/logs': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: {
        query?: { offset?: number; limit?: number };
        header?: never;
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'application/json': JobLogsFallback } };
      };
    };
  };
}

/** Every path the client calls: the document's, and those it does not describe yet. */
export type AllPaths = paths & Omit<UndocumentedPaths, keyof paths>;

export type Job = ResponseBody<'/v1/jobs/{id}', 'get', 200>;
export type JobState = Job['state'];
export type JobSubmission = RequestBody<'/v1/jobs', 'post'>;
/** An RFC 9457 problem: how every error is answered. */
export type Problem = ResponseBody<'/v1/jobs/{id}', 'get', 404, 'application/problem+json'>;

/** One version of a function, as a deploy answers it. */
export type FunctionVersion = ResponseBody<'/v1/functions/{name}', 'put', 201>;
export type FunctionDefaults = NonNullable<
  Extract<RequestBody<'/v1/functions/{name}', 'put'>, { code: string }>['defaults']
>;

export type JobLogs = Documented<ResponseBody<'/v1/jobs/{id}/logs', 'get', 200>, JobLogsFallback>;

export type JobPage = Documented<ResponseBody<'/v1/jobs', 'get', 200>, { jobs: Job[]; nextCursor: string | null }>;

/** What a cancel did; `job` is null once the job is removed. */
export type Cancellation = Documented<
  ResponseBody<'/v1/jobs/{id}', 'delete', 202>,
  { id: string; outcome: 'removed' | 'cancelling' | 'finished'; job: Job | null }
>;

export type FunctionDetails = Documented<
  ResponseBody<'/v1/functions/{name}', 'get', 200>,
  { name: string; latest: FunctionVersion; versions: FunctionVersion[]; paused: boolean }
>;

/** Whether a function is paused, as pausing or resuming it answers. */
export type FunctionPause = Documented<
  ResponseBody<'/v1/functions/{name}/pause', 'post', 200>,
  { name: string; paused: boolean }
>;

export type FunctionListEntry = Documented<
  ResponseBody<'/v1/functions', 'get', 200>,
  { functions: FunctionVersion[] }
>['functions'][number];

/** A live job process, as the nodes' latest heartbeats (a few seconds old at most) describe it. */
export type ProcessEntry = Documented<
  ResponseBody<'/v1/processes', 'get', 200>,
  {
    processes: Array<{
      node: string;
      pid: string;
      function: string;
      status: string;
      priority: string;
      /** CPU time of its sandbox from the kernel, nanoseconds. */
      cpuTimeNs?: number;
      /** Resident bytes of its sandbox. */
      memory?: number;
      messageQueueLength: number;
      jobId?: string;
      tenant?: string;
    }>;
  }
>['processes'][number];

/** Whether a message or a kill reached the process's node. */
export type Delivery = Documented<
  ResponseBody<'/v1/processes/{pid}/messages', 'post', 202>,
  { pid: string; jobId: string; delivered: boolean }
>;

/** A live worker node and its scheduler's figures (admin only). */
export type ClusterNode = Documented<
  ResponseBody<'/v1/nodes', 'get', 200>,
  {
    nodes: Array<{
      node: string;
      lastSeen: string;
      stats: {
        cores?: number;
        maxProcesses?: number;
        live?: number;
        utilization?: number;
        windowMs?: number;
        runQueue?: Record<'max' | 'high' | 'normal' | 'low', number>;
        cpuSecondsByPriority?: Record<'max' | 'high' | 'normal' | 'low', number>;
        mainThread?: { utilization: number; lagMs: { p50: number; p99: number; max: number } };
      };
      processes: number;
    }>;
  }
>['nodes'][number];

/** A node's scheduler figures, as its latest heartbeat says. */
export type SchedulerFigures = ClusterNode['stats'];

export type QueueDepth = Documented<
  ResponseBody<'/v1/queues', 'get', 200>,
  { queues: Array<{ name: string; counts: Record<string, number> }> }
>['queues'][number];

export type DeadLetters = Documented<ResponseBody<'/v1/dead-letters', 'get', 200>, { deadLetters: Job[] }>;

/** A schedule as a tenant defines it: the job it runs and when (cron or everyMs). */
export type ScheduleDefinition = RequestBody<'/v1/schedules', 'post'>;
/** A schedule with its next due times and its recent runs. */
export type Schedule = ResponseBody<'/v1/schedules/{id}', 'get', 200>;
export type ScheduleListEntry = ResponseBody<'/v1/schedules', 'get', 200>['schedules'][number];

/** What the job's event stream carries, in order; `end` comes last, with the ended job. */
export type JobEvent =
  | { readonly type: 'state'; readonly job: Job }
  | { readonly type: 'progress'; readonly progress: unknown }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'end'; readonly job: Job };
