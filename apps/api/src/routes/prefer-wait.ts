import { ApiError } from '../problem.js';

/** The longest a submission may wait for its job to end, as GET /v1/jobs/{id}/wait. */
export const MAX_PREFER_WAIT_S = 60;

/**
 * The wait a client asks for with `Prefer: wait=<seconds>` (RFC 7240), in ms; undefined without
 * one. Other preferences are ignored, as the RFC says; a malformed or too long wait is refused.
 */
export function preferredWaitMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  for (const preference of header.split(',')) {
    const [name, value] = preference.split(';')[0]?.split('=') ?? [];
    if (name?.trim().toLowerCase() !== 'wait') continue;
    const text = value?.trim().replace(/^"(.*)"$/, '$1') ?? '';
    const seconds = /^\d{1,6}(\.\d{1,3})?$/.test(text) ? Number(text) : Number.NaN;
    if (!(seconds <= MAX_PREFER_WAIT_S)) {
      throw new ApiError(
        400,
        'Invalid request',
        `The Prefer header's wait must be a number of seconds from 0 to ${MAX_PREFER_WAIT_S} (like "Prefer: wait=10"); it was "${text}".`,
        { errors: [{ path: 'header.prefer', message: `wait must be 0–${MAX_PREFER_WAIT_S} seconds` }] },
      );
    }
    return Math.round(seconds * 1000);
  }
  return undefined;
}
