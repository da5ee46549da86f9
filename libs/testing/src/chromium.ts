import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

/**
 * The Chromium that page tests drive with playwright-core (which downloads no browser): the
 * CHROMIUM_PATH variable, else Debian's `chromium` on PATH. Throws, saying how to install it.
 */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of NAMES) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  throw new Error('No Chromium found: `apt-get install chromium` (Debian) or set CHROMIUM_PATH to a Chromium binary.');
}
