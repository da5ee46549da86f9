import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleFunction, functionNameFor } from '../src/cli/bundle.js';
import { REPO_DIR, SDK_DIR } from './platform.js';

const example = (name: string) => join(REPO_DIR, 'examples', name, 'index.ts');

describe('bundleFunction', () => {
  const cwd = process.cwd();
  beforeEach(() => process.chdir(SDK_DIR));
  afterEach(() => process.chdir(cwd));

  it('leaves the REST client out of a function that imports the SDK for defineFunction', async () => {
    const bundle = await bundleFunction(example('counter'));
    expect(bundle.code).not.toContain('openapi');
    expect(bundle.code).not.toContain('BeamlineApiError');
    expect(bundle.bytes).toBeLessThan(5_000);
    expect(bundle.code).toMatch(/export \{[^}]*\bdefault\b/);
    expect(bundle.code).not.toMatch(/^import /m);
  });

  it('inlines npm dependencies into one module without imports', async () => {
    const bundle = await bundleFunction(example('validate-order'));
    expect(bundle.code).toContain('prettifyError');
    expect(bundle.code).not.toMatch(/^import /m);
  });
});

describe('functionNameFor', () => {
  it("names a function after its file, or its folder's for index files", () => {
    expect(functionNameFor('src/resize-image.ts')).toBe('resize-image');
    expect(functionNameFor('examples/counter/index.ts')).toBe('counter');
    expect(functionNameFor('x/index.ts', 'given_name')).toBe('given_name');
    expect(() => functionNameFor('src/2fast.ts')).toThrow(
      '"2fast" is not a function name: 1–100 letters, digits, "_" or "-", starting with a letter; pass --name.',
    );
  });
});
