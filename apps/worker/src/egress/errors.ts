/** The environment variable an operator lists per-tenant exceptions in (a JSON object, see `parseEgressAllow`). */
export const EGRESS_ALLOW_VARIABLE = 'EGRESS_ALLOW';
/** The environment variable listing the platform's own services, refused for every tenant. */
export const EGRESS_DENY_VARIABLE = 'EGRESS_DENY';

/** Why a request was not performed. */
export type EgressErrorCode =
  /** The destination is not allowed for this tenant. */
  | 'refused'
  /** The request is malformed (URL, method, header). */
  | 'invalid'
  /** The request or response body is over its limit. */
  | 'too-large'
  | 'timeout'
  | 'too-many-redirects'
  /** Name resolution, connection, TLS or protocol failure. */
  | 'network';

/**
 * A refused or failed egress request. The message is meant for the tenant: it says what was refused and, where an
 * operator can allow it, how; it does not disclose addresses that the tenant did not give.
 */
export class EgressError extends Error {
  readonly code: EgressErrorCode;

  constructor(message: string, code: EgressErrorCode = 'refused', options?: ErrorOptions) {
    super(message, options);
    this.name = 'EgressError';
    this.code = code;
  }
}
