import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { cli, eventually, json, usePlatform } from './platform.js';

const platform = usePlatform();

const scratch = mkdtempSync(join(tmpdir(), 'beamline-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy and run a TypeScript function that imports an npm package', () => {
  it('bundles zod in, deploys the bundle, runs it with --wait and shows progress, logs and the result', async () => {
    const deployed = await cli(platform, ['deploy', 'test/fixtures/greet/index.ts']);
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    // Named after the entry's folder (the file is index.ts); version, hash and size printed.
    expect(deployed.stdout).toMatch(/^deployed greet version 1 \(sha256 [0-9a-f]{12}, \d+(\.\d)? kB\)\n$/);

    const again = json(await cli(platform, ['deploy', 'test/fixtures/greet/index.ts', '--json']));
    expect(again).toMatchObject({ name: 'greet', version: 1, created: false });
    expect(again.bytes).toBeGreaterThan(10_000); // zod is inside
    expect(again.bytes).toBeLessThan(1_000_000);

    const run = await cli(platform, ['run', 'greet', '--input', '{"name":"Ada","times":2}', '--wait']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ greeting: 'hello Ada, hello Ada', length: 20 });
    expect(run.stderr).toMatch(/^submitted job (\d+) \(greet@1\)$/m);
    expect(run.stderr).toContain('[info] greeting Ada');
    expect(run.stderr).toContain('[debug] done: 20 characters');
    expect(run.stderr).toMatch(/^job \d+ completed in /m);

    const id = /submitted job (\d+)/.exec(run.stderr)?.[1] as string;
    const logs = await cli(platform, ['jobs', 'logs', id]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe('[info] greeting Ada\n[debug] done: 20 characters\n');
    const page = json(await cli(platform, ['jobs', 'logs', id, '--offset', '1', '--json']));
    expect(page).toEqual({ logs: ['[debug] done: 20 characters'], total: 2, offset: 1 });
    const followed = await cli(platform, ['jobs', 'logs', id, '--follow']);
    expect(followed).toMatchObject({ code: 0, stdout: logs.stdout });

    const job = json(await cli(platform, ['jobs', 'get', id, '--json']));
    expect(job).toMatchObject({ id, state: 'completed', function: 'greet', version: 1, progress: 50 });
    const shown = await cli(platform, ['jobs', 'get', id]);
    expect(shown.stdout).toMatch(/^state +completed$/m);
    expect(shown.stdout).toMatch(/^result +\{"greeting":"hello Ada, hello Ada","length":20\}$/m);
  });

  it('--json gives the ended job on stdout and nothing else', async () => {
    const run = await cli(platform, ['run', 'greet', '--input', '{"name":"Bo"}', '--wait', '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(json(run)).toMatchObject({ state: 'completed', result: { greeting: 'hello Bo', length: 8 } });
  });

  it('reads the input from a file with @file, and submits without waiting', async () => {
    const inputFile = join(scratch, 'input.json');
    writeFileSync(inputFile, '{"name":"Cy"}');
    const submitted = json(await cli(platform, ['run', 'greet', '--input', `@${inputFile}`, '--json']));
    expect(submitted).toMatchObject({ function: 'greet', input: { name: 'Cy' } });
    const ended = json(await cli(platform, ['jobs', 'get', submitted.id, '--wait', '--json']));
    expect(ended).toMatchObject({ state: 'completed', result: { greeting: 'hello Cy' } });
  });

  it('exits with 1 when the job fails, showing why', async () => {
    const run = await cli(platform, ['run', 'greet', '--input', '{"name":""}', '--wait', '--attempts', '1']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^job \d+ failed: error: /m);
    expect(run.stderr).toContain('too_small');

    const failed = await cli(platform, [
      'run',
      'fail',
      '--input',
      '{"message":"on purpose"}',
      '--attempts',
      '1',
      '--wait',
      '--json',
    ]);
    expect(failed.code).toBe(1);
    expect(json(failed)).toMatchObject({ state: 'failed', exit: { reason: 'error', message: 'Error: on purpose' } });
  });
});

describe('deploy refuses what cannot run in the sandbox', () => {
  it('names every Node built-in and the chain of imports that leads to it', async () => {
    const refused = await cli(platform, ['deploy', 'test/fixtures/uses-fs/index.ts']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      'Cannot deploy test/fixtures/uses-fs/index.ts: it imports Node built-in modules, which the job sandbox does not have: node:fs, node:path.',
    );
    expect(refused.stderr).toMatch(
      /node:fs +imported by test\/fixtures\/uses-fs\/index\.ts → test\/fixtures\/uses-fs\/storage\.ts → node:fs/,
    );
    expect(refused.stderr).toMatch(
      /node:path +imported by test\/fixtures\/uses-fs\/index\.ts → test\/fixtures\/uses-fs\/storage\.ts → node:path/,
    );
    const functions = json(await cli(platform, ['functions', 'ls', '--json'])).functions;
    expect(functions.map((f: { name: string }) => f.name)).not.toContain('uses-fs');
  });

  it('refuses a bare built-in name too, a module without a default export, and code that does not compile', async () => {
    const bare = join(scratch, 'bare.ts');
    writeFileSync(bare, "import { createHash } from 'crypto';\nexport default async () => createHash('sha1');\n");
    const crypto = await cli(platform, ['deploy', bare, '--json']);
    expect(crypto.code).toBe(1);
    expect(JSON.parse(crypto.stderr).error.message).toContain('which the job sandbox does not have: crypto.');

    const noDefault = await cli(platform, ['deploy', 'test/fixtures/no-default/index.ts']);
    expect(noDefault.code).toBe(1);
    expect(noDefault.stderr).toContain('has no default export');

    const broken = join(scratch, 'broken.ts');
    writeFileSync(broken, 'export default async (input: unknown => input;\n');
    const syntax = await cli(platform, ['deploy', broken]);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/Cannot bundle .*broken\.ts: an error\./);
    expect(syntax.stderr).toContain('broken.ts:1:');
  });
});

describe('jobs', () => {
  it('lists, cancels and retries', async () => {
    const slow = json(await cli(platform, ['run', 'sleep', '--input', '{"ms":60000}', '--json']));
    await eventually(async () => {
      const job = json(await cli(platform, ['jobs', 'get', slow.id, '--json']));
      return job.state === 'running' ? job : undefined;
    }, 'the sleep job to run');

    const list = json(await cli(platform, ['jobs', 'ls', '--function', 'sleep', '--json']));
    expect(list.jobs.map((j: { id: string }) => j.id)).toContain(slow.id);
    const table = await cli(platform, ['jobs', 'ls', '--state', 'running']);
    expect(table.stdout).toMatch(new RegExp(`^ID +STATE +FUNCTION[^\\n]*\\n${slow.id} +running +sleep@1 `, 'm'));

    const cancelled = await cli(platform, ['jobs', 'cancel', slow.id]);
    expect(cancelled.code).toBe(0);
    const ended = json(await cli(platform, ['jobs', 'get', slow.id, '--wait', '--json']));
    expect(ended.state).toBe('cancelled');

    const again = await cli(platform, ['jobs', 'cancel', slow.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Job ${slow.id} has already ended (cancelled); there is nothing to cancel.`);

    const retried = json(await cli(platform, ['jobs', 'retry', slow.id, '--json']));
    expect(retried.id).toBe(slow.id);
    expect(['waiting', 'delayed', 'running']).toContain(retried.state);
    await cli(platform, ['jobs', 'cancel', slow.id]);
  });

  it('answers an unknown job with the API problem and exit code 1', async () => {
    const missing = await cli(platform, ['jobs', 'get', '999999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^beamline: Not found \(404\): Job 999999 does not exist\./m);
    const asJson = await cli(platform, ['jobs', 'get', '999999', '--json']);
    expect(JSON.parse(asJson.stderr).error).toMatchObject({ exitCode: 1, status: 404, problem: { status: 404 } });
  });
});

describe('usage, connection and auth errors have their own exit codes', () => {
  it('2 for a usage error, with a one-line message and where to look', async () => {
    const unknownOption = await cli(platform, ['run', 'greet', '--colour', 'red']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toBe(
      'beamline: run has no option --colour.\nRun "beamline run --help" for its usage.\n',
    );

    const missingArg = await cli(platform, ['deploy']);
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain('deploy takes <entry>; got none.');

    const badJson = await cli(platform, ['run', 'greet', '--input', '{name: 1}']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^beamline: --input is not valid JSON/);

    const badNumber = await cli(platform, ['jobs', 'ls', '--limit', 'many']);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain('--limit must be a whole number from 1 to 100; got "many".');

    expect((await cli(platform, ['bogus'])).code).toBe(2);
    expect((await cli(platform, ['jobs'])).stderr).toContain('jobs needs a subcommand: ls, get, cancel, retry, logs.');
    expect((await cli(platform, ['deploy', 'does/not/exist.ts'])).stderr).toContain('does/not/exist.ts does not exist');
    expect((await cli(platform, ['ps'], { as: null })).stderr).toContain('No API key: set BEAMLINE_API_KEY');
    expect((await cli(undefined, ['ps'])).stderr).toContain('No API URL: set BEAMLINE_URL or pass --url');
  });

  it('3 when the API cannot be reached or refuses the key; --url and --api-key override the environment', async () => {
    const closed = await closedPort();
    const unreachable = await cli(platform, ['ps'], { url: `http://127.0.0.1:${closed}` });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(`Cannot reach the Beamline API at http://127.0.0.1:${closed}`);

    const refused = await cli(platform, ['ps', '--api-key', 'not-a-key-of-this-api']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/\(401\)/);

    const flags = await cli(undefined, ['ps', '--url', platform.url, '--api-key', 'acme-key-0123456789abcdef']);
    expect(flags.code).toBe(0);
  });

  it('--help for every command, and for the whole CLI', async () => {
    for (const command of COMMANDS) {
      const help = await cli(undefined, [...command.path, '--help']);
      expect(help.code, `${command.path.join(' ')}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`Usage: beamline ${command.path.join(' ')}`);
      expect(help.stdout).toContain('--json');
    }
    const overview = await cli(undefined, ['--help']);
    expect(overview.code).toBe(0);
    for (const command of COMMANDS) expect(overview.stdout).toContain(`beamline ${command.path.join(' ')}`);
    expect((await cli(undefined, ['help', 'jobs', 'logs'])).stdout).toContain('Usage: beamline jobs logs <id>');
    expect((await cli(undefined, [])).code).toBe(2);
  });
});

describe('functions', () => {
  it('lists, shows and deletes', async () => {
    const file = join(scratch, 'doomed.ts');
    writeFileSync(file, 'export default async () => 1;\n');
    expect((await cli(platform, ['deploy', file, '--defaults', '{"timeoutMs": 5000}'])).code).toBe(0);
    const details = json(await cli(platform, ['functions', 'get', 'doomed', '--json']));
    expect(details).toMatchObject({ name: 'doomed', latest: { version: 1, defaults: { timeoutMs: 5000 } } });
    const list = await cli(platform, ['functions', 'ls']);
    expect(list.stdout).toMatch(/^doomed +1 /m);
    expect(list.stdout).toMatch(/^echo +\d+ .*built-in$/m);
    expect((await cli(platform, ['functions', 'rm', 'doomed'])).code).toBe(0);
    expect((await cli(platform, ['functions', 'get', 'doomed'])).code).toBe(1);

    const badDefaults = await cli(platform, ['deploy', file, '--defaults', '{"timeoutMs": -1}']);
    expect(badDefaults.code).toBe(1);
    expect(badDefaults.stderr).toMatch(/^ {2}defaults\.timeoutMs: /m);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
