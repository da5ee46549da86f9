import type { ChildSpec } from '../supervisor/types.js';
import type { FunctionModule } from './function-module.js';
import type { IsolatedSpawnOptions } from './isolated-process.js';
import type { Scheduler } from './scheduler.js';

type ChildOptions = Omit<ChildSpec, 'id' | 'start' | 'type'>;

/**
 * A supervisor child that runs `module` as an isolated process linked to the supervisor
 * (simple_one_for_one: the extra arguments of `startChild` are appended to `input` as `args`
 * when given). The supervisor treats it exactly as a green worker.
 */
export function isolatedChild(
  scheduler: Scheduler,
  id: string,
  module: FunctionModule,
  input?: unknown,
  options: ChildOptions & { readonly spawn?: IsolatedSpawnOptions } = {},
): ChildSpec {
  const { spawn, ...spec } = options;
  return {
    ...spec,
    id,
    type: 'worker',
    start: (ctx, ...args) => scheduler.spawnLink(ctx, module, args.length > 0 ? { input, args } : input, spawn),
  };
}
