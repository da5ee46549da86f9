import { defineCommand } from '../command.js';
import { table } from '../format.js';

export const functionsListCommand = defineCommand({
  path: ['functions', 'ls'],
  args: [],
  summary: 'List the functions you can run: yours and the built-in ones, latest version each.',
  options: {},
  async run({ out, client }) {
    const functions = await client().functions.list();
    out.result({ functions }, () =>
      table(
        ['NAME', 'VERSION', 'DEPLOYED', 'SHA256', ''],
        functions.map((f) => [
          f.name ?? '',
          String(f.version ?? ''),
          f.createdAt ?? '',
          (f.sha256 ?? '').slice(0, 12),
          f.builtin ? 'built-in' : '',
        ]),
      ),
    );
    return 0;
  },
});

export const functionsGetCommand = defineCommand({
  path: ['functions', 'get'],
  args: ['name'],
  summary: 'Show a function and its versions.',
  options: {},
  async run({ args, out, client }) {
    const details = await client().functions.get(args[0] as string);
    out.result(details, () =>
      [
        `${details.name}: latest version ${details.latest.version}${details.paused ? ' (paused)' : ''}`,
        table(
          ['VERSION', 'DEPLOYED', 'SHA256', 'DEFAULTS'],
          details.versions.map((v) => [
            String(v.version ?? ''),
            v.createdAt ?? '',
            (v.sha256 ?? '').slice(0, 12),
            v.defaults && Object.keys(v.defaults).length > 0 ? JSON.stringify(v.defaults) : '',
          ]),
        ),
      ].join('\n'),
    );
    return 0;
  },
});

export const functionsDeleteCommand = defineCommand({
  path: ['functions', 'rm'],
  args: ['name'],
  summary: 'Delete a function and all its versions.',
  options: {},
  async run({ args, out, client }) {
    const name = args[0] as string;
    await client().functions.delete(name);
    out.result({ name, deleted: true }, () => `deleted ${name}`);
    return 0;
  },
});

export const functionsPauseCommand = defineCommand({
  path: ['functions', 'pause'],
  args: ['name'],
  summary: 'Pause a function: its jobs are accepted and wait, none starts; running ones go on.',
  options: {},
  async run({ args, out, client }) {
    const paused = await client().functions.pause(args[0] as string);
    out.result(paused, () => `paused ${paused.name}`);
    return 0;
  },
});

export const functionsResumeCommand = defineCommand({
  path: ['functions', 'resume'],
  args: ['name'],
  summary: 'Resume a paused function: its waiting jobs start again.',
  options: {},
  async run({ args, out, client }) {
    const resumed = await client().functions.resume(args[0] as string);
    out.result(resumed, () => `resumed ${resumed.name}`);
    return 0;
  },
});
