/** Egress for tenant code: the policy deciding where its proxied fetch() may go, and the fetch performer. */
export { EGRESS_ALLOW_VARIABLE, EGRESS_DENY_VARIABLE, EgressError, type EgressErrorCode } from './errors.js';
export {
  DEFAULT_EGRESS_LIMITS,
  type EgressLimits,
  type EgressRequest,
  type EgressResponse,
  egressFetch,
} from './fetch.js';
export {
  type EgressEntry,
  EgressPolicy,
  type EgressPolicyOptions,
  type EgressTarget,
  parseEgressAllow,
  parseEgressDeny,
  parseEgressEntry,
  type ResolvedAddress,
  type Resolver,
} from './policy.js';
