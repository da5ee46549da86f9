import { encodeControl } from '@beamline/jobs';
import { describe, expect, it } from 'vitest';
import { FairControlQueue, senderTenantOf } from '../src/control-queue.js';

describe('the control queue of a node', () => {
  it("keeps another tenant's messages when one tenant floods it, and takes tenants in turns", () => {
    const dropped: string[] = [];
    const queue = new FairControlQueue(100, 1_000_000, (tenant) => dropped.push(tenant));
    for (let i = 0; i < 1000; i++) queue.push('flooder', `forged ${i}`);
    queue.push('victim', 'own 0');
    queue.push('victim', 'own 1');
    expect(queue.length).toBe(100);
    expect(dropped.filter((t) => t === 'victim')).toEqual([]);
    expect(dropped.filter((t) => t === 'flooder')).toHaveLength(902);
    const first = queue.take(4);
    expect(first).toEqual([expect.stringMatching(/^forged/), 'own 0', expect.stringMatching(/^forged/), 'own 1']);
    expect(queue.take(1000)).toHaveLength(96);
    expect(queue.length).toBe(0);
  });

  it('is bounded in bytes too: a few huge messages make room by dropping the biggest sender', () => {
    const dropped: string[] = [];
    const queue = new FairControlQueue(1000, 10_000, (tenant) => dropped.push(tenant));
    for (let i = 0; i < 5; i++) queue.push('big', 'x'.repeat(4000));
    // Two fit; the sender with the most waiting is the sender itself: its new ones are dropped.
    expect(dropped).toEqual(['big', 'big', 'big']);
    queue.push('small', 'y'.repeat(100));
    // No room for 3,000 more bytes: the biggest sender loses its oldest.
    queue.push('small', 'z'.repeat(3000));
    expect(dropped).toEqual(['big', 'big', 'big', 'big']);
    expect(queue.take(10).map((text) => text.length)).toEqual([4000, 100, 3000]);
  });

  it("a flood of tiny messages never drops another tenant's few large ones", () => {
    const dropped: string[] = [];
    const queue = new FairControlQueue(100, 10_000_000, (tenant) => dropped.push(tenant));
    for (let i = 0; i < 5; i++) queue.push('globex', 'x'.repeat(1_000_000));
    for (let i = 0; i < 1000; i++) queue.push('acme', `tiny ${i}`);
    expect(dropped.filter((tenant) => tenant === 'globex')).toEqual([]);
    expect(queue.length).toBe(100);
  });

  it('reads the sender tenant the platform stamped, not one inside the message', () => {
    const text = encodeControl({
      type: 'send',
      to: 'node-a.1',
      from: 'node-b.2',
      tenant: 'globex',
      message: { tenant: 'acme', '"tenant":"acme"': 1 },
    }) as string;
    expect(senderTenantOf(text)).toBe('globex');
    expect(senderTenantOf('not json')).toBe('');
  });
});
