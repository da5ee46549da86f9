export { type BoundedJson, boundedJson, truncated } from './bounded-json.js';
export {
  type ControlMessage,
  ControlPublisher,
  decodeControl,
  encodeControl,
  isControlTenant,
  OPERATOR_TENANT,
} from './control.js';
export {
  booleanFlag,
  ConfigError,
  configOrExit,
  DEFAULT_REDIS_URL,
  describeRedis,
  EnvReader,
  EXIT_CONFIG,
  keyPrefix,
  logLevel,
  redisClusterUrls,
  redisUrl,
  wholeNumber,
} from './env.js';
export { decodeExit, describeExit, encodeExit, type JobExit } from './exit-reason.js';
export { BUILTIN_TENANT, DEFAULT_PREFIX, JOB_ID, Keys, QUEUE_NAME } from './keys.js';
export { type ConnectionOptions, connectRedis, type RedisTarget, redisTarget } from './redis-connection.js';
export {
  type DeployedFunction,
  FunctionRegistry,
  MAX_BUNDLE_BYTES,
  RegistryError,
  ReservedNameError,
  sha256Of,
} from './registry.js';
export * from './schemas.js';
export { createServiceLogger, effectiveLogFormat, type LogFormat, logFormat, logRedisInUse } from './service-logger.js';
export {
  type AdmitVerdict,
  functionRunningKey,
  keyRunningKey,
  PARKED_MS,
  parkedJobsKey,
  pausedFunctionsKey,
  pausedMember,
  slotWaitersKey,
} from './store/admission.js';
export {
  ENDED_STATES,
  EXIT_REASONS,
  type ExitReasonName,
  FAULTS,
  JOB_STATES,
  type JobState,
  jobStateOf,
} from './store/job-state.js';
export {
  BacklogFullError,
  type CancelOutcome,
  CHILD_IDS_SHOWN,
  ChildJobError,
  type ChildRelation,
  DEFAULT_TENANT,
  definedLimits,
  idempotentJobId,
  type JobListQuery,
  JobSpecError,
  JobStore,
  type JobStoreOptions,
  type JobView,
  type ParentOfChild,
  REQUEUE_PER_STEP,
  type Submitted,
} from './store/job-store.js';
export {
  ScheduleCapError,
  type ScheduleDetail,
  type ScheduledRun,
  type ScheduleSpec,
  ScheduleStore,
  type ScheduleStoreOptions,
  type ScheduleView,
  scheduleIdSchema,
  scheduleSpecSchema,
  type ValidScheduleSpec,
} from './store/schedules.js';
export { BULLMQ_VERSION, type RedisClient } from './store/scripts.js';
