import type * as Runtime from '@beamline/runtime';
import { TIMEOUT } from '@beamline/runtime';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as Sdk from '../src/index.js';
import { isDownMessage, isExitMessage, isTimeout } from '../src/index.js';

/**
 * The SDK's `ctx` types are a copy of @beamline/runtime's (which is not published). These checks
 * run in the typecheck: they fail when the runtime's FunctionContext changes and the copy does not.
 */
describe("the SDK's FunctionContext is the runtime's", () => {
  it('offers exactly the members the runtime gives a function', () => {
    expectTypeOf<keyof Sdk.FunctionContext>().toEqualTypeOf<keyof Runtime.FunctionContext>();
    // What a function really receives fits every SDK declaration…
    expectTypeOf<Runtime.FunctionContext>().toExtend<Sdk.FunctionContext>();
    // …and, `receive`'s timeout value aside (a symbol either way), each member is the same.
    expectTypeOf<Omit<Sdk.FunctionContext, 'receive'>>().toEqualTypeOf<Omit<Runtime.FunctionContext, 'receive'>>();
    expectTypeOf<Runtime.Timeout>().toExtend<Sdk.Timeout>();
  });

  it('has the same supporting types', () => {
    expectTypeOf<Sdk.SpawnOptions>().toEqualTypeOf<Runtime.ThreadSpawnOptions>();
    expectTypeOf<Sdk.LogLevel>().toEqualTypeOf<Runtime.LogLevel>();
    expectTypeOf<Sdk.Priority>().toEqualTypeOf<Runtime.Priority>();
    expectTypeOf<Sdk.Pid>().toEqualTypeOf<Runtime.Pid>();
    expectTypeOf<Sdk.Ref>().toEqualTypeOf<Runtime.Ref>();
    expectTypeOf<Sdk.Matcher<string>>().toEqualTypeOf<Runtime.Matcher<string>>();
    expectTypeOf<Sdk.ExitMessage>().toEqualTypeOf<Runtime.ExitMessage>();
    expectTypeOf<Sdk.DownMessage>().toEqualTypeOf<Runtime.DownMessage>();
    expectTypeOf<Sdk.StartJobOptions>().toEqualTypeOf<Runtime.StartJobOptions>();
    expectTypeOf<Sdk.ChildJob>().toEqualTypeOf<Runtime.ChildJob>();
    expectTypeOf<Sdk.ChildJobEnd>().toEqualTypeOf<Runtime.ChildJobEnd>();
    expectTypeOf<Sdk.JobExitMessage>().toEqualTypeOf<Runtime.JobExitMessage>();
    expectTypeOf<Sdk.JobDownMessage>().toEqualTypeOf<Runtime.JobDownMessage>();
    expectTypeOf<Sdk.MessagingContext>().toExtend<Omit<Runtime.MessagingContext, 'receive'>>();
  });

  it("recognizes the runtime's own timeout value and messages", () => {
    expect(isTimeout(TIMEOUT)).toBe(true);
    expect(isTimeout(Symbol('other'))).toBe(false);
    expect(isTimeout('timeout')).toBe(false);
    expect(isDownMessage({ type: 'DOWN', ref: 'r', pid: 'n.1', reason: 'normal' })).toBe(true);
    expect(isExitMessage({ type: 'EXIT', from: 'n.1', reason: 'kill' })).toBe(true);
    expect(isExitMessage({ type: 'DOWN' })).toBe(false);
  });
});
