import type { Api } from './api.js';
import type { DeployedFunction, FunctionDetail } from './types.js';

/** How many functions' pause states the Functions view reads at once when the list does not carry them. */
const PARALLEL_READS = 4;

export const functionPath = (name: string): string => `/v1/functions/${encodeURIComponent(name)}`;

/** Only your own functions can be paused (for you); a built-in never is, and the API refuses to pause one (409). */
export const pausable = (f: DeployedFunction): boolean => !f.builtin;

/** Whether the function is paused for you, from GET /v1/functions/{name}. */
export async function readPaused(api: Api, name: string): Promise<boolean> {
  return (await api.get<FunctionDetail>(functionPath(name))).paused;
}

/** Pauses or resumes the function (POST …/pause, …/resume) and returns its state as the API answers it. */
export async function setPaused(api: Api, name: string, paused: boolean): Promise<boolean> {
  const answer = await api.call<{ paused: boolean }>('POST', `${functionPath(name)}/${paused ? 'pause' : 'resume'}`);
  return answer.paused;
}

/**
 * The pause state of each of your functions: from the list when it carries `paused`, otherwise read
 * one function at a time per lane (PARALLEL_READS lanes). A function whose read fails is left out.
 */
export async function pauseStates(api: Api, functions: readonly DeployedFunction[]): Promise<Map<string, boolean>> {
  const states = new Map<string, boolean>();
  const unread: string[] = [];
  for (const f of functions.filter(pausable)) {
    if (f.paused === undefined) unread.push(f.name);
    else states.set(f.name, f.paused);
  }
  const lane = async () => {
    for (let name = unread.shift(); name !== undefined; name = unread.shift()) {
      const paused = await readPaused(api, name).catch(() => undefined);
      if (paused !== undefined) states.set(name, paused);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, unread.length) }, lane));
  return states;
}
