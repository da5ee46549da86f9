import type { Schedule, ScheduleDefinition, ScheduleListEntry } from '../../client/types.js';
import { defineCommand, UsageError } from '../command.js';
import { inline, table } from '../format.js';
import { readChoice, readJsonArgument, readWholeNumber } from '../values.js';

const PRIORITIES = ['max', 'high', 'normal', 'low'] as const;

const whenOf = (schedule: ScheduleListEntry): string =>
  schedule.cron === undefined
    ? `every ${schedule.everyMs} ms`
    : `cron "${schedule.cron}"${schedule.timezone ? ` ${schedule.timezone}` : ''}`;

const stateOf = (schedule: ScheduleListEntry): string => (schedule.paused ? 'paused' : 'active');

function scheduleDetails(schedule: Schedule): string {
  const lines = [
    `schedule ${schedule.id}: ${stateOf(schedule)}, ${whenOf(schedule)}`,
    `  function  ${schedule.function}`,
    `  input     ${inline(schedule.input)}`,
    `  next      ${schedule.nextRuns.length > 0 ? schedule.nextRuns.join(', ') : '(none while paused)'}`,
  ];
  if (schedule.lastRuns.length === 0) return lines.join('\n');
  const runs = table(
    ['JOB', 'DUE', 'STATE'],
    schedule.lastRuns.map((run) => [run.jobId, run.dueAt, run.skipped ? 'skipped' : (run.state ?? 'expired')]),
  );
  return `${lines.join('\n')}\n\n${runs}`;
}

export const schedulesListCommand = defineCommand({
  path: ['schedules', 'ls'],
  args: [],
  summary: 'List your schedules.',
  options: {},
  async run({ out, client }) {
    const schedules = await client().schedules.list();
    out.result({ schedules }, () =>
      schedules.length === 0
        ? 'no schedules'
        : table(
            ['ID', 'STATE', 'WHEN', 'FUNCTION', 'NEXT RUN'],
            schedules.map((s) => [s.id, stateOf(s), whenOf(s), s.function, s.nextRunAt ?? '']),
          ),
    );
    return 0;
  },
});

export const schedulesGetCommand = defineCommand({
  path: ['schedules', 'get'],
  args: ['id'],
  summary: 'Show a schedule: its next run times and its recent runs.',
  options: {},
  async run({ args, out, client }) {
    const schedule = await client().schedules.get(args[0] as string);
    out.result(schedule, () => scheduleDetails(schedule));
    return 0;
  },
});

export const schedulesCreateCommand = defineCommand({
  path: ['schedules', 'create'],
  args: ['id', 'function'],
  summary: 'Create a schedule, or replace yours of the same id: run a function on a cron expression or an interval.',
  details: [
    'Exactly one of --cron and --every-ms. Each run is an ordinary job of yours (beamline jobs ls),',
    'counted in your backlog; a run due while the backlog is full is skipped and shown as such.',
  ].join('\n'),
  options: {
    cron: {
      type: 'string',
      value: 'EXPR',
      description: 'a cron expression, e.g. "0 3 * * *" (6 fields: seconds first)',
    },
    'every-ms': { type: 'string', value: 'MS', description: 'run every MS milliseconds, the first at once' },
    timezone: { type: 'string', value: 'TZ', description: 'the IANA time zone of --cron (default UTC)' },
    input: { type: 'string', short: 'i', value: 'JSON|@file', description: 'the input of every run' },
    priority: { type: 'string', value: 'LEVEL', description: 'max, high, normal or low' },
    'timeout-ms': { type: 'string', value: 'MS', description: 'wall-clock limit of one run' },
    'memory-mb': { type: 'string', value: 'MB', description: 'memory limit of one run' },
    attempts: { type: 'string', value: 'N', description: 'runs before a job fails for good' },
    paused: { type: 'boolean', description: 'create it paused (resume it later)' },
  },
  async run({ args, options, out, client }) {
    if ((options.cron === undefined) === (options['every-ms'] === undefined)) {
      throw new UsageError('give exactly one of --cron EXPR and --every-ms MS.');
    }
    const everyMs = readWholeNumber(options['every-ms'], 'every-ms', 1, 2_147_483_647);
    const priority = readChoice(options.priority, 'priority', PRIORITIES);
    const timeoutMs = readWholeNumber(options['timeout-ms'], 'timeout-ms', 1, 2_147_483_647);
    const memoryMb = readWholeNumber(options['memory-mb'], 'memory-mb', 16, 65_536);
    const attempts = readWholeNumber(options.attempts, 'attempts', 1, 100);
    const definition: ScheduleDefinition = {
      id: args[0] as string,
      function: args[1] as string,
      ...(options.cron === undefined ? {} : { cron: options.cron }),
      ...(everyMs === undefined ? {} : { everyMs }),
      ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
      ...(options.input === undefined ? {} : { input: readJsonArgument(options.input, '--input') }),
      ...(priority === undefined ? {} : { priority }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(memoryMb === undefined ? {} : { memoryMb }),
      ...(attempts === undefined ? {} : { attempts }),
      ...(options.paused ? { paused: true } : {}),
    };
    const schedule = await client().schedules.upsert(definition);
    out.result(schedule, () => `${schedule.created ? 'created' : 'replaced'} ${scheduleDetails(schedule)}`);
    return 0;
  },
});

export const schedulesPauseCommand = defineCommand({
  path: ['schedules', 'pause'],
  args: ['id'],
  summary: 'Pause a schedule: no more runs (its next run, if not started, is removed).',
  options: {},
  async run({ args, out, client }) {
    const schedule = await client().schedules.pause(args[0] as string);
    out.result(schedule, () => `paused ${schedule.id}`);
    return 0;
  },
});

export const schedulesResumeCommand = defineCommand({
  path: ['schedules', 'resume'],
  args: ['id'],
  summary: 'Resume a paused schedule from now.',
  options: {},
  async run({ args, out, client }) {
    const schedule = await client().schedules.resume(args[0] as string);
    out.result(schedule, () => `resumed ${schedule.id}: next run ${schedule.nextRunAt ?? '(none)'}`);
    return 0;
  },
});

export const schedulesDeleteCommand = defineCommand({
  path: ['schedules', 'rm'],
  args: ['id'],
  summary: 'Delete a schedule and its next run not started.',
  options: {},
  async run({ args, out, client }) {
    const id = args[0] as string;
    await client().schedules.delete(id);
    out.result({ id, deleted: true }, () => `deleted ${id}`);
    return 0;
  },
});
