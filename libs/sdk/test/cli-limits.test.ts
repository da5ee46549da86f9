import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, json, usePlatform } from './platform.js';

const platform = usePlatform();

describe('pausing functions and concurrency keys', () => {
  it('pauses and resumes a function; run --concurrency-key submits a keyed job', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'beamline-limits-')), 'keyed.ts');
    writeFileSync(file, 'export default async (input) => input;\n');
    expect((await cli(platform, ['deploy', file])).code).toBe(0);

    expect((await cli(platform, ['functions', 'pause', 'keyed'])).stdout).toBe('paused keyed\n');
    expect((await cli(platform, ['functions', 'get', 'keyed'])).stdout).toMatch(
      /^keyed: latest version 1 \(paused\)$/m,
    );
    expect(json(await cli(platform, ['functions', 'resume', 'keyed', '--json']))).toEqual({
      name: 'keyed',
      paused: false,
    });
    const notOurs = await cli(platform, ['functions', 'pause', 'echo']);
    expect(notOurs.code).toBe(1);
    expect(notOurs.stderr).toContain('built-in');

    const run = await cli(platform, [
      'run',
      'keyed',
      '--input',
      '"one at a time"',
      '--concurrency-key',
      'customer-7',
      '--concurrency-limit',
      '1',
      '--wait',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('one at a time\n');
  }, 30_000);
});
