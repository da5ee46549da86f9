import { type BeamlineClient, createClient } from '../client/client.js';
import { UsageError } from './command.js';

export interface ConnectionFlags {
  readonly url?: string | undefined;
  readonly apiKey?: string | undefined;
}

/** The API client from --url/--api-key, else BEAMLINE_URL/BEAMLINE_API_KEY. */
export function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): BeamlineClient {
  const url = flags.url ?? env.BEAMLINE_URL;
  const apiKey = flags.apiKey ?? env.BEAMLINE_API_KEY;
  if (!url) throw new UsageError('No API URL: set BEAMLINE_URL or pass --url (e.g. --url http://localhost:3000).');
  if (!apiKey) throw new UsageError('No API key: set BEAMLINE_API_KEY or pass --api-key.');
  try {
    return createClient({ url, apiKey });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
