import { describe, expect, it } from 'vitest';
import { type RestartType, startSupervisor } from '../../src/index.js';
import { testNode } from '../helpers.js';
import { child, counts, type How, pidOf, terminate } from './harness.js';

// supervisor_SUITE groups normal_termination, shutdown_termination and abnormal_termination.
type Outcome = 'restarted' | 'kept_stopped' | 'removed';

const cases: Array<[RestartType, How, Outcome]> = [
  ['permanent', 'normal', 'restarted'],
  ['permanent', 'shutdown', 'restarted'],
  ['permanent', { shutdown: 'some_info' }, 'restarted'],
  ['permanent', 'abnormal', 'restarted'],
  ['permanent', 'kill', 'restarted'],
  ['transient', 'normal', 'kept_stopped'],
  ['transient', 'shutdown', 'kept_stopped'],
  ['transient', { shutdown: 'some_info' }, 'kept_stopped'],
  ['transient', 'abnormal', 'restarted'],
  ['transient', 'kill', 'restarted'],
  ['temporary', 'normal', 'removed'],
  ['temporary', 'shutdown', 'removed'],
  ['temporary', { shutdown: 'some_info' }, 'removed'],
  ['temporary', 'abnormal', 'removed'],
  ['temporary', 'kill', 'removed'],
];

describe('restart types', () => {
  it.each(cases)('a %s child ending with %j is %s', async (restart, how, outcome) => {
    const t = testNode();
    const sup = await startSupervisor(t.node, { intensity: 5 }, [child('child1', { restart })]);
    const pid = await pidOf(sup, 'child1');
    await terminate(t, sup, pid, how);
    const children = await sup.whichChildren();
    if (outcome === 'restarted') {
      expect(children).toEqual([{ id: 'child1', pid: expect.not.stringMatching(pid), type: 'worker' }]);
      expect(await counts(sup)).toEqual([1, 1, 0, 1]);
    } else if (outcome === 'kept_stopped') {
      expect(children).toEqual([{ id: 'child1', pid: undefined, type: 'worker' }]);
      expect(await counts(sup)).toEqual([1, 0, 0, 1]);
      expect((await sup.restartChild('child1')).ok).toBe(true);
    } else {
      expect(children).toEqual([]);
      expect(await counts(sup)).toEqual([0, 0, 0, 0]);
      expect((await sup.startChild(child('child1', { restart }))).ok).toBe(true);
    }
  });

  it('do_not_save_child_specs_for_temporary_children: what startChild of the same spec answers afterwards', async () => {
    const expectations: Array<[RestartType, How, string]> = [
      ['permanent', 'supervisor', 'already_present'],
      ['permanent', 'kill', 'already_started'],
      ['permanent', 'normal', 'already_started'],
      ['permanent', 'abnormal', 'already_started'],
      ['transient', 'supervisor', 'already_present'],
      ['transient', 'normal', 'already_present'],
      ['transient', 'kill', 'already_started'],
      ['transient', 'abnormal', 'already_started'],
      ['temporary', 'supervisor', 'ok'],
      ['temporary', 'normal', 'ok'],
      ['temporary', 'kill', 'ok'],
      ['temporary', 'abnormal', 'ok'],
    ];
    for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
      for (const [restart, how, expected] of expectations) {
        const t = testNode();
        const sup = await startSupervisor(t.node, { strategy, intensity: 5 }, []);
        const spec = child('child', { restart });
        const started = await sup.startChild(spec);
        if (!started.ok || !started.pid) throw new Error('start failed');
        await terminate(t, sup, started.pid, how, 'child');
        const again = await sup.startChild(spec);
        const answer = again.ok ? 'ok' : again.error;
        expect(answer, `${strategy} ${restart} ${JSON.stringify(how)}`).toBe(expected);
        if (expected === 'already_present') expect((await sup.restartChild('child')).ok).toBe(true);
      }
    }
  });
});
