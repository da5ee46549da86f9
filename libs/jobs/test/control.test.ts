import { describe, expect, it } from 'vitest';
import { type ControlMessage, decodeControl, encodeControl, isControlTenant, OPERATOR_TENANT } from '../src/index.js';

describe('control messages', () => {
  it('carry the sender tenant and round-trip through JSON', () => {
    const message: ControlMessage = { type: 'send', to: 'n1.4', from: 'n2.7', tenant: 'acme', message: { a: 1 } };
    expect(decodeControl(encodeControl(message) as string)).toEqual(message);
    const exit: ControlMessage = { type: 'exit', to: 'n1.4', from: 'api.0', tenant: OPERATOR_TENANT, reason: 'kill' };
    expect(decodeControl(encodeControl(exit) as string)).toEqual(exit);
    const crash: ControlMessage = {
      type: 'exit',
      to: 'n1.4',
      from: 'n2.7',
      tenant: 'acme',
      reason: { error: new TypeError('bad') },
    };
    expect(JSON.parse(encodeControl(crash) as string).reason.error).toMatchObject({
      name: 'TypeError',
      message: 'bad',
    });
  });

  it('are not written out when their JSON would be larger than a control message may be', () => {
    const sparse: unknown[] = [];
    sparse.length = 100_000_000;
    expect(encodeControl({ type: 'send', to: 'n1.4', from: 'n2.7', tenant: 'acme', message: sparse })).toBeUndefined();
  });

  it('are refused without a stamped tenant, with a tenant that cannot exist, or malformed', () => {
    const base = { type: 'send', to: 'n1.4', from: 'n2.7', message: 1 };
    expect(decodeControl(JSON.stringify(base))).toBeUndefined();
    expect(decodeControl(JSON.stringify({ ...base, tenant: '' }))).toBeUndefined();
    expect(decodeControl(JSON.stringify({ ...base, tenant: 'Not A Tenant' }))).toBeUndefined();
    expect(decodeControl(JSON.stringify({ ...base, tenant: 7 }))).toBeUndefined();
    expect(decodeControl(JSON.stringify({ ...base, tenant: 'acme', to: 'nope' }))).toBeUndefined();
    expect(decodeControl(JSON.stringify({ ...base, tenant: 'acme', type: 'link' }))).toBeUndefined();
    expect(decodeControl(JSON.stringify([base]))).toBeUndefined();
    expect(decodeControl('not json')).toBeUndefined();
    expect(decodeControl('null')).toBeUndefined();
  });

  it('the operator marker is no tenant name', () => {
    expect(isControlTenant(OPERATOR_TENANT)).toBe(true);
    expect(isControlTenant('acme')).toBe(true);
    expect(isControlTenant('operator')).toBe(true);
    expect(isControlTenant('@admin')).toBe(false);
  });
});
