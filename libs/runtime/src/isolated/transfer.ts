import { describeReason } from '../reason.js';

/** An error as it crosses a thread boundary: name, message and stack survive, the class does not. */
export interface TransferredError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
  /** Set when a non-Error value was thrown: the value itself (copied) or its description. */
  readonly thrown?: unknown;
}

export function toTransferred(value: unknown): TransferredError {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: value.message,
      stack: value.stack,
      code: typeof code === 'string' ? code : undefined,
    };
  }
  return {
    name: 'Error',
    message: `a non-Error value was thrown: ${describeReason(value)}`,
    stack: undefined,
    code: undefined,
    thrown: isCloneable(value) ? value : describeReason(value),
  };
}

/** Rebuilds an Error on the receiving side, keeping the original name, message and stack. */
export function fromTransferred(transferred: TransferredError): Error {
  const error = new Error(transferred.message);
  error.name = transferred.name;
  error.stack = transferred.stack ?? `${transferred.name}: ${transferred.message}`;
  if (transferred.code !== undefined) Object.assign(error, { code: transferred.code });
  if ('thrown' in transferred) Object.assign(error, { thrown: transferred.thrown });
  return error;
}

export function isCloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}
