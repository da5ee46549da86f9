import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startCli, usePlatform } from './platform.js';

const platform = usePlatform();

const scratch = mkdtempSync(join(tmpdir(), 'beamline-dev-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const versionSource = (version: number) =>
  `import type { FunctionContext } from '@beamline/sdk';\n` +
  `export default async (input: { n: number }, ctx: FunctionContext) => {\n` +
  `  ctx.log('running version ${version}');\n` +
  `  ctx.progress(${version * 10});\n` +
  `  return { version: ${version}, doubled: input.n * 2 };\n` +
  `};\n`;

// biome-ignore lint/suspicious/noExplicitAny: the events are JSON lines read field by field
type Line = any;

describe('beamline dev', () => {
  it('redeploys on every change, runs each new version and follows its job; a broken change is reported', async () => {
    const entry = join(scratch, 'live.ts');
    writeFileSync(entry, versionSource(1));
    const dev = startCli(platform, ['dev', entry, '--run', '{"n": 21}', '--json']);
    const lines: Line[] = [];
    let pending = '';
    let stderr = '';
    dev.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
    });
    dev.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const closed = new Promise<number | null>((resolve) => dev.on('close', resolve));
    const ended = (version: number) =>
      eventually(
        async () => lines.find((l) => l.type === 'end' && l.job.result?.version === version),
        `the job of version ${version} to end (seen: ${JSON.stringify(lines)}; stderr: ${stderr})`,
        90_000,
      );

    try {
      const first = await ended(1);
      expect(first.job).toMatchObject({ state: 'completed', function: 'live', version: 1, result: { doubled: 42 } });
      expect(lines).toContainEqual(
        expect.objectContaining({ type: 'deployed', name: 'live', version: 1, created: true }),
      );
      expect(lines).toContainEqual({ jobId: first.jobId, type: 'log', line: '[info] running version 1' });

      writeFileSync(entry, versionSource(2));
      const second = await ended(2);
      expect(second.job).toMatchObject({ state: 'completed', version: 2, result: { doubled: 42 } });
      expect(second.jobId).not.toBe(first.jobId);
      expect(lines).toContainEqual(
        expect.objectContaining({ type: 'deployed', name: 'live', version: 2, created: true }),
      );

      writeFileSync(entry, 'export default async (input => input;\n');
      const broken = await eventually(
        async () => lines.find((l) => l.type === 'build-failed'),
        `the broken build to be reported (seen: ${JSON.stringify(lines)})`,
        90_000,
      );
      expect(broken.message).toMatch(/Cannot bundle .*live\.ts: an error\./);

      writeFileSync(entry, versionSource(3));
      expect((await ended(3)).job).toMatchObject({ state: 'completed', version: 3 });
    } finally {
      dev.kill('SIGINT');
    }
    expect(await closed).toBe(0);
  });
});
