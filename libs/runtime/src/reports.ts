import type { Pid } from './pid.js';
import type { ExitReason } from './reason.js';

/** A process ended with a reason other than normal, shutdown or {shutdown, _} (OTP's crash report). */
export interface CrashReport {
  readonly type: 'crash';
  readonly pid: Pid;
  readonly initialFunction: string;
  readonly reason: ExitReason;
}

/** What OTP's supervisor reports through the logger. */
export interface SupervisorReport {
  readonly type: 'supervisor';
  readonly supervisor: Pid;
  readonly event: 'start_error' | 'child_terminated' | 'shutdown_error' | 'reached_max_restart_intensity';
  readonly childId: string | undefined;
  readonly pid: Pid | undefined;
  /**
   * When a simple_one_for_one supervisor stops: every child that ended with `reason` instead of
   * the expected one (OTP's terminate_dynamic_children reports once per distinct reason).
   */
  readonly pids?: readonly Pid[];
  readonly reason: ExitReason;
}

/** A callback run during signal delivery (an exit listener) threw; delivery went on. */
export interface CallbackErrorReport {
  readonly type: 'callback_error';
  readonly context: string;
  readonly error: unknown;
}

export type Report = CrashReport | SupervisorReport | CallbackErrorReport;
export type ReportHandler = (report: Report) => void;
