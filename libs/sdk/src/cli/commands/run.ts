import type { Job, JobSubmission } from '../../client/types.js';
import { defineCommand } from '../command.js';
import { followJob } from '../follow.js';
import type { Output } from '../output.js';
import { readChoice, readJsonArgument, readWholeNumber } from '../values.js';

const PRIORITIES = ['max', 'high', 'normal', 'low'] as const;

export const runCommand = defineCommand({
  path: ['run'],
  args: ['function'],
  summary: 'Submit a job: run a function (name or name@version) with an input.',
  details: [
    'With --wait, follows the job: its state, progress and log lines on stderr, then its result on',
    'stdout; the exit code is 1 when the job fails or is cancelled.',
  ].join('\n'),
  options: {
    input: {
      type: 'string',
      short: 'i',
      value: 'JSON|@file',
      description: 'the input (JSON; @file reads a file, @- stdin)',
    },
    wait: { type: 'boolean', short: 'w', description: 'follow the job until it ends and print its result' },
    priority: { type: 'string', value: 'LEVEL', description: 'max, high, normal or low' },
    'timeout-ms': { type: 'string', value: 'MS', description: 'wall-clock limit of one run' },
    'memory-mb': { type: 'string', value: 'MB', description: 'memory limit of one run' },
    attempts: { type: 'string', value: 'N', description: 'runs before the job fails for good' },
    'idempotency-key': { type: 'string', value: 'KEY', description: 'submit at most once under this key' },
    'concurrency-key': {
      type: 'string',
      value: 'KEY',
      description: "jobs with this key run at most --concurrency-limit (or the function's keyConcurrency) at once",
    },
    'concurrency-limit': { type: 'string', value: 'N', description: 'jobs with the --concurrency-key running at once' },
  },
  async run({ args, options, out, client, signal }) {
    const priority = readChoice(options.priority, 'priority', PRIORITIES);
    const timeoutMs = readWholeNumber(options['timeout-ms'], 'timeout-ms', 1, 2_147_483_647);
    const memoryMb = readWholeNumber(options['memory-mb'], 'memory-mb', 16, 65_536);
    const attempts = readWholeNumber(options.attempts, 'attempts', 1, 100);
    const concurrencyLimit = readWholeNumber(options['concurrency-limit'], 'concurrency-limit', 1, 1000);
    const concurrencyKey = options['concurrency-key'];
    const submission: JobSubmission = {
      function: args[0] as string,
      ...(options.input === undefined ? {} : { input: readJsonArgument(options.input, '--input') }),
      ...(priority === undefined ? {} : { priority }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(memoryMb === undefined ? {} : { memoryMb }),
      ...(attempts === undefined ? {} : { attempts }),
      ...(concurrencyKey === undefined ? {} : { concurrencyKey }),
      ...(concurrencyLimit === undefined ? {} : { concurrencyLimit }),
    };
    const api = client();
    const key = options['idempotency-key'];
    const job = await api.jobs.submit(submission, key === undefined ? {} : { idempotencyKey: key });
    if (!options.wait) {
      out.result(job, () => `submitted job ${job.id} (${job.function}@${job.version}, ${job.state})`);
      return 0;
    }
    out.note(`submitted job ${job.id} (${job.function}@${job.version})`);
    const ended = await followJob(api, job.id, out, { signal });
    if (!ended) return 130;
    return reportEnded(out, ended);
  },
});

/** Prints an ended job's result (JSON of the whole job with --json) and returns the exit code: 0 only when it completed. */
export function reportEnded(out: Output, job: Job): number {
  if (job.state === 'completed') {
    out.result(job, () => (typeof job.result === 'string' ? job.result : JSON.stringify(job.result, null, 2)));
    return 0;
  }
  if (out.json) out.result(job, () => '');
  else if (job.exit?.stack) out.note(job.exit.stack);
  return 1;
}
