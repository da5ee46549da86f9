export {
  type BeamlineClient,
  type ClientOptions,
  createClient,
  type DeployResult,
  hasEnded,
  type JobListQuery,
  type WaitOptions,
} from './client/client.js';
export { BeamlineApiError, BeamlineConnectionError, type FieldError } from './client/errors.js';
export type {
  Cancellation,
  ClusterNode,
  DeadLetters,
  Delivery,
  FunctionDefaults,
  FunctionDetails,
  FunctionListEntry,
  FunctionVersion,
  Job,
  JobEvent,
  JobLogs,
  JobPage,
  JobState,
  JobSubmission,
  Problem,
  ProcessEntry,
  QueueDepth,
  SchedulerFigures,
} from './client/types.js';
export type {
  DownMessage,
  ExitMessage,
  ExitReason,
  FunctionContext,
  LogLevel,
  Matcher,
  MessagingContext,
  Pid,
  Priority,
  Ref,
  SpawnOptions,
  Timeout,
} from './function/context.js';
export { type BeamlineFunction, defineFunction, type InputOf, type OutputOf } from './function/define-function.js';
export { isDownMessage, isExitMessage, isTimeout } from './function/messages.js';
