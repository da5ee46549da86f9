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
  ConfigError,
  configOrExit,
  DEFAULT_REDIS_URL,
  EnvReader,
  EXIT_CONFIG,
  keyPrefix,
  logLevel,
  redisUrl,
  wholeNumber,
} from './env.js';
export { describeExit, type JobExit } from './exit-reason.js';
export {
  type CancelOutcome,
  DEFAULT_TENANT,
  definedLimits,
  idempotentJobId,
  JobClient,
  JobSpecError,
  type JobState,
  type JobView,
  type RunningJob,
} from './jobs.js';
export { BUILTIN_TENANT, DEFAULT_PREFIX, Keys, QUEUE_NAME } from './keys.js';
export {
  type DeployedFunction,
  FunctionRegistry,
  MAX_BUNDLE_BYTES,
  RegistryError,
  sha256Of,
} from './registry.js';
export * from './schemas.js';
