import { describe, expect, it } from 'vitest';
import { ended, type Json, usePlatform } from './helpers.js';

const { p } = usePlatform();

async function deploy(
  name: string,
  code: string,
  as: 'acme' | 'globex' = 'acme',
): Promise<{ status: number; body: Json }> {
  return p.call('PUT', `/v1/functions/${name}`, {
    raw: code,
    as,
    headers: { 'content-type': 'application/javascript' },
  });
}

describe('deploy-time checks', () => {
  it('refuses a syntax error with its line, column and a code frame', async () => {
    const refused = await deploy('broken', 'export default async (input) => {\n  const x = ;\n  return x;\n};\n');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ title: 'Invalid function', problem: 'syntax', line: 2, column: 13 });
    expect(refused.body.frame).toContain('const x = ;');
    expect(refused.body.frame).toContain('^');
  });

  it.each([
    ['CommonJS', 'module.exports = async () => 1;', 'top_level_throw', /ES modules|export default/],
    ['TypeScript', 'export default async (input: string): Promise<number> => 1;', 'syntax', /beamline deploy/],
    ['no default export', 'export const handler = async () => 1;', 'no_default_export', /default/],
    ['a default that is no function', 'export default 42;', 'default_not_a_function', /function/],
    [
      'an npm import',
      "import _ from 'lodash';\nexport default async () => _.identity(1);",
      'unresolved_import',
      /beamline deploy/,
    ],
    [
      'top-level code that throws',
      "throw new Error('boom at load');\nexport default async () => 1;",
      'top_level_throw',
      /boom at load/,
    ],
    ['top-level code that never ends', 'for (;;) {}\nexport default async () => 1;', 'top_level_timeout', /./],
  ])('refuses %s with a problem that says what to do', async (_what, code, problem, message) => {
    const refused = await deploy('refused', code);
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(refused.body.problem).toBe(problem);
    expect(refused.body.detail).toMatch(message);
    if (problem === 'unresolved_import') expect(refused.body.specifier).toBe('lodash');
  });

  it('stores nothing it refused, and runs what it accepted', async () => {
    expect((await p.call('GET', '/v1/functions/refused')).status).toBe(404);
    expect((await deploy('accepted', 'export default async (input) => ({ doubled: input * 2 });')).status).toBe(201);
    const job = await p.call('POST', '/v1/jobs', { body: { function: 'accepted', input: 21 } });
    expect((await ended(p, job.body.id)).result).toEqual({ doubled: 42 });
  });

  it("one tenant's flood of slow deploys neither locks out nor long delays another tenant's", async () => {
    const runaway = 'for (;;) {}\nexport default async () => 1;';
    const ended: string[] = [];
    const flood = Array.from({ length: 10 }, (_, i) =>
      deploy(`runaway-${i}`, runaway).then((answer) => {
        ended.push(`acme ${answer.status}`);
        return answer;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = await deploy('patient', 'export default async () => 1;', 'globex');
    ended.push(`globex ${other.status}`);
    const answers = await Promise.all(flood);
    expect(other.status).toBe(201);
    // The flooder's surplus is refused (its own 429), and the other tenant is served in turn,
    // before most of the flood has been checked.
    expect(answers.filter((answer) => answer.status === 429).length).toBeGreaterThan(0);
    expect(answers.filter((answer) => answer.status === 429)[0]?.body.detail).toMatch(/your deploys/);
    expect(ended.indexOf('globex 201')).toBeLessThan(ended.filter((entry) => entry.startsWith('acme')).length);
    expect(ended.slice(ended.indexOf('globex 201') + 1).filter((entry) => entry === 'acme 400').length).toBeGreaterThan(
      0,
    );
  }, 60_000);
});
