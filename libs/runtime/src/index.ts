export { CallError, isCallMessage } from './call.js';
export { type Clock, ManualClock, settle, systemClock, type TimerHandle } from './clock.js';
export {
  type CallFrom,
  type CallMessage,
  type DemonitorOptions,
  type InitBody,
  type MessagingContext,
  type ProcessBody,
  type ProcessContext,
  type SpawnOptions,
  type Started,
  TIMEOUT,
  type Timeout,
} from './context.js';
export { BadArgError, NameTakenError } from './errors.js';
export type { MainThreadStats } from './isolated/accounting.js';
export { isolatedChild } from './isolated/child-spec.js';
export type { FunctionContext, IsolatedFunction } from './isolated/function-context.js';
export { type FunctionModule, functionModule } from './isolated/function-module.js';
export type { IsolatedSpawnOptions, LogEntry } from './isolated/isolated-process.js';
export type {
  ChildJob,
  ChildJobEnd,
  JobDownMessage,
  JobExitMessage,
  JobTreeHost,
  StartJobOptions,
} from './isolated/job-tree.js';
export type { ProcessLimits } from './isolated/limits.js';
export {
  checkFunctionModule,
  DEFAULT_CHECK_MEMORY_MB,
  DEFAULT_CHECK_TIMEOUT_MS,
  MODULE_PROBLEMS,
  type ModuleCheck,
  type ModuleCheckOptions,
  ModuleCheckUnavailableError,
  type ModuleProblem,
} from './isolated/module-check.js';
export type { PriorityEnforcement } from './isolated/nice.js';
export type { LogLevel, ThreadSpawnOptions } from './isolated/protocol.js';
export type { PoolStats } from './isolated/sandbox-pool.js';
export {
  type FunctionResolver,
  type RunOutcome,
  Scheduler,
  type SchedulerOptions,
  type SchedulerStats,
} from './isolated/scheduler.js';
export type { RemoteRouter } from './kernel.js';
export type { Matcher } from './mailbox.js';
export { type DownMessage, type ExitMessage, isDownMessage, isExitMessage } from './messages.js';
export { Node, type NodeOptions, type NodeStats, type ProcessInfo } from './node.js';
export { generateNodeId, isPid, nodeOfPid, type Pid, type Ref } from './pid.js';
export { PRIORITIES, type Priority } from './priority.js';
export { PROCESS_STATUSES, type ProcessKind, type ProcessStatus } from './process.js';
export {
  describeReason,
  type ErrorReason,
  type ExitReason,
  isErrorReason,
  isOrderlyExit,
  isShutdownReason,
  ProcessExit,
  REASON_LABELS,
  type ReasonLabel,
  reasonLabel,
  type ShutdownReason,
  type WellKnownReason,
} from './reason.js';
export type { CallbackErrorReport, CrashReport, Report, ReportHandler, SupervisorReport } from './reports.js';
export { StartError } from './start-error.js';
export {
  type SupervisorCaller,
  SupervisorClient,
  type SupervisorOptions,
  startSupervisor,
  startSupervisorLink,
  supervisorChild,
  workerChild,
} from './supervisor/client.js';
export type { FailedToStartChild } from './supervisor/server.js';
export type * from './supervisor/types.js';
export { AUTO_SHUTDOWNS, RESTART_TYPES, STRATEGIES } from './supervisor/types.js';
export { SupervisorSpecError } from './supervisor/validate.js';
