import type { FunctionContext } from './context.js';

/** A Beamline function: the default export of the module you deploy. */
export type BeamlineFunction<Input = unknown, Output = unknown> = (
  input: Input,
  ctx: FunctionContext,
) => Promise<Output> | Output;

/** The input type of a function made with `defineFunction`. */
export type InputOf<F> = F extends BeamlineFunction<infer Input, unknown> ? Input : never;

/** The result type of a function made with `defineFunction`. */
export type OutputOf<F> = F extends BeamlineFunction<never, infer Output> ? Output : never;

/**
 * Types a function for the job runtime: `export default defineFunction<Input, Output>(async (input, ctx) => …)`.
 * Returns `fn` itself; the input and result cross the sandbox as copies (JSON from the API).
 */
export function defineFunction<Input = unknown, Output = unknown>(
  fn: (input: Input, ctx: FunctionContext) => Promise<Output> | Output,
): BeamlineFunction<Input, Output> {
  if (typeof fn !== 'function') {
    throw new TypeError(`defineFunction expects a function (input, ctx) => result; got ${typeof fn}.`);
  }
  return fn;
}
