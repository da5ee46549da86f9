import type { ControlPublisher, FunctionRegistry, JobStore, Keys, RedisClient, ScheduleStore } from '@beamline/jobs';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ApiConfig } from './config.js';
import type { DeployChecker } from './deploy-check.js';
import type { JobEvents } from './job-events.js';
import type { ApiMetrics } from './metrics.js';

/** What the routes work with. */
export interface ApiDeps {
  readonly config: ApiConfig;
  readonly redis: RedisClient;
  readonly queue: Queue;
  readonly events: JobEvents;
  readonly keys: Keys;
  readonly registry: FunctionRegistry;
  /** Checks a bundle in a sandbox before the registry stores it. */
  readonly deployChecker: DeployChecker;
  /** The one owner of job state: every read and change of a job goes through it. */
  readonly jobs: JobStore;
  /** Tenants' schedules (BullMQ job schedulers whose runs are jobs of the job store). */
  readonly schedules: ScheduleStore;
  readonly control: ControlPublisher;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  /** Both the API's connection and the queue's are connected (otherwise /v1 answers 503). */
  readonly redisReady: () => boolean;
}
