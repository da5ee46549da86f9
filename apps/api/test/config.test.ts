import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('API configuration', () => {
  it('reads keys bound to tenants, with defaults for the rest', () => {
    const config = loadConfig({ BEAMLINE_API_KEYS: 'a-very-long-key-0001:acme, another-long-key-0002:admin' });
    expect(config).toMatchObject({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      backlogCap: 100_000,
      maxBodyBytes: 1_048_576,
    });
    expect(config.apiKeys).toEqual([
      { key: 'a-very-long-key-0001', tenant: 'acme' },
      { key: 'another-long-key-0002', tenant: 'admin' },
    ]);
  });

  it('names every wrong variable without ever printing a key', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        BEAMLINE_API_KEYS: 'short:acme,a-very-long-secret-key:Not A Tenant,another-long-key-0003:builtin',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT must be a whole number from 0 to 65535; got "eighty"');
    expect(message).toContain(
      'BEAMLINE_API_KEYS entry 1 must be "<key>:<tenant>" with a key of at least 16 characters',
    );
    expect(message).toContain('BEAMLINE_API_KEYS entry 2 has an invalid tenant');
    expect(message).toContain('entry 3: tenant "builtin" is reserved');
    expect(message).not.toContain('a-very-long-secret-key');
    expect(() => loadConfig({})).toThrow(/BEAMLINE_API_KEYS must hold at least one/);
  });

  it('the API process refuses to start with an invalid configuration and exits 78', async () => {
    const child = spawn(process.execPath, [new URL('../dist/main.js', import.meta.url).pathname], {
      env: { ...process.env, BEAMLINE_API_KEYS: '', PORT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(78);
    expect(stderr).toContain('BEAMLINE_API_KEYS must hold at least one');
  });
});
