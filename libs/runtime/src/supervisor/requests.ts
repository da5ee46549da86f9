import type { ExitReason } from '../reason.js';

/** What the supervisor client asks the supervisor process (OTP's gen_server calls). */
export type SupervisorRequest =
  | { readonly op: 'start_child'; readonly spec: unknown }
  | { readonly op: 'terminate_child'; readonly id: string }
  | { readonly op: 'restart_child'; readonly id: string }
  | { readonly op: 'delete_child'; readonly id: string }
  | { readonly op: 'which_children' }
  | { readonly op: 'which_child'; readonly id: string }
  | { readonly op: 'count_children' }
  | { readonly op: 'get_childspec'; readonly id: string }
  | { readonly op: 'get_flags' }
  | { readonly op: 'stop'; readonly reason: ExitReason };

/** The message a supervisor sends itself to retry a failed restart (OTP's try_again_restart). */
export interface TryAgainRestart {
  readonly type: '$try_again_restart';
  readonly key: string;
}

export function isTryAgainRestart(message: unknown): message is TryAgainRestart {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === '$try_again_restart'
  );
}
