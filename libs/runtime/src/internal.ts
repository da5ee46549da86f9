import type { ProcessContext } from './context.js';
import type { Kernel } from './kernel.js';

/** Lets the runtime's own green processes (supervisors) reach their node's kernel. */
export const KERNEL: unique symbol = Symbol('beamline.kernel');

export function kernelOf(ctx: ProcessContext): Kernel {
  const kernel = (ctx as ProcessContext & { [KERNEL]?: Kernel })[KERNEL];
  if (!kernel) throw new TypeError('This context does not belong to a green process of a Beamline node.');
  return kernel;
}
