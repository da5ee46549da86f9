import { describe, expect, it } from 'vitest';
import { cli, json, usePlatform } from './platform.js';

const platform = usePlatform();

describe('schedules', () => {
  it('creates, lists, shows, pauses, resumes and deletes a schedule', async () => {
    const created = await cli(platform, [
      'schedules',
      'create',
      'nightly',
      'echo',
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Europe/Paris',
      '--input',
      '{"report":true}',
      '--priority',
      'low',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^created schedule nightly: active, cron "0 3 \* \* \*" Europe\/Paris$/m);

    const replaced = json(
      await cli(platform, ['schedules', 'create', 'nightly', 'echo', '--cron', '0 4 * * *', '--json']),
    );
    expect(replaced).toMatchObject({ id: 'nightly', cron: '0 4 * * *', created: false });
    expect(replaced.nextRuns).toHaveLength(5);

    const list = await cli(platform, ['schedules', 'ls']);
    expect(list.stdout).toMatch(/^nightly +active +cron "0 4 \* \* \*" +echo /m);

    const shown = await cli(platform, ['schedules', 'get', 'nightly']);
    expect(shown.stdout).toMatch(/^ {2}next {6}\d{4}-/m);
    expect(shown.stdout).toMatch(/^repeat:acme~nightly:\d+ .* delayed$/m);

    expect((await cli(platform, ['schedules', 'pause', 'nightly'])).stdout).toBe('paused nightly\n');
    expect(json(await cli(platform, ['schedules', 'get', 'nightly', '--json']))).toMatchObject({
      paused: true,
      nextRunAt: null,
    });
    expect((await cli(platform, ['schedules', 'resume', 'nightly'])).stdout).toMatch(
      /^resumed nightly: next run \d{4}-/,
    );
    expect((await cli(platform, ['schedules', 'rm', 'nightly'])).stdout).toBe('deleted nightly\n');
    expect((await cli(platform, ['schedules', 'ls'])).stdout).toBe('no schedules\n');
  });

  it('refuses a bad cron with the API problem (exit 1), and a missing --cron/--every-ms as a usage error (exit 2)', async () => {
    const bad = await cli(platform, ['schedules', 'create', 'x', 'echo', '--cron', 'every day']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not a valid cron expression');
    const neither = await cli(platform, ['schedules', 'create', 'x', 'echo']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('exactly one of --cron EXPR and --every-ms MS');
    expect((await cli(platform, ['schedules', 'get', 'x'])).code).toBe(1);
  });
});
