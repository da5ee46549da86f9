import type { BeamlineClient } from '../../client/client.js';
import type { JobState } from '../../client/types.js';
import { defineCommand } from '../command.js';
import { inline, jobDetails, jobLine, table } from '../format.js';
import type { Output } from '../output.js';
import { readChoice, readWholeNumber } from '../values.js';

const STATES: readonly JobState[] = ['waiting', 'delayed', 'running', 'completed', 'failed', 'cancelled'];

export const jobsListCommand = defineCommand({
  path: ['jobs', 'ls'],
  args: [],
  summary: 'List your jobs, newest first.',
  options: {
    state: { type: 'string', value: 'STATE', description: `only jobs in this state: ${STATES.join(', ')}` },
    function: { type: 'string', value: 'NAME', description: 'only jobs of this function' },
    limit: { type: 'string', value: 'N', description: 'jobs per page, 1–100 (default 20)' },
    cursor: { type: 'string', value: 'CURSOR', description: 'the next page, as the previous one said' },
  },
  async run({ options, out, client }) {
    const state = readChoice(options.state, 'state', STATES);
    const limit = readWholeNumber(options.limit, 'limit', 1, 100);
    const page = await client().jobs.list({
      ...(state === undefined ? {} : { state }),
      ...(options.function === undefined ? {} : { function: options.function }),
      ...(limit === undefined ? {} : { limit }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    out.result(page, () => {
      if (page.jobs.length === 0) return 'no jobs';
      const rows = page.jobs.map((job) => [
        job.id,
        job.state,
        `${job.function}@${job.version}`,
        job.priority ?? '',
        job.submittedAt,
        job.state === 'completed' ? clip(inline(job.result)) : clip(job.exit?.message ?? job.exit?.reason ?? ''),
      ]);
      const more = page.nextCursor ? `\nmore: beamline jobs ls --cursor ${page.nextCursor}` : '';
      return table(['ID', 'STATE', 'FUNCTION', 'PRIORITY', 'SUBMITTED', 'RESULT / EXIT'], rows) + more;
    });
    return 0;
  },
});

export const jobsGetCommand = defineCommand({
  path: ['jobs', 'get'],
  args: ['id'],
  summary: 'Show a job: state, attempts, timestamps, result or exit reason.',
  options: {
    wait: { type: 'boolean', short: 'w', description: 'wait until the job ends (exit code 1 unless it completed)' },
  },
  async run({ args, options, out, client, signal }) {
    const id = args[0] as string;
    const job = options.wait ? await client().jobs.wait(id, { signal }) : await client().jobs.get(id);
    out.result(job, () => jobDetails(job));
    return options.wait && job.state !== 'completed' ? 1 : 0;
  },
});

export const jobsCancelCommand = defineCommand({
  path: ['jobs', 'cancel'],
  args: ['id'],
  summary: 'Cancel a job: removed if it has not started, killed where it runs otherwise.',
  options: {},
  async run({ args, out, client }) {
    const cancellation = await client().jobs.cancel(args[0] as string);
    out.result(cancellation, () => `job ${cancellation.id} ${cancellation.outcome}`);
    return 0;
  },
});

export const jobsRetryCommand = defineCommand({
  path: ['jobs', 'retry'],
  args: ['id'],
  summary: 'Retry a failed or cancelled job.',
  options: {},
  async run({ args, out, client }) {
    const job = await client().jobs.retry(args[0] as string);
    out.result(job, () => `retrying: ${jobLine(job)}`);
    return 0;
  },
});

/** Lines fetched per request when reading a whole log. */
const LOG_PAGE = 500;

export const jobsLogsCommand = defineCommand({
  path: ['jobs', 'logs'],
  args: ['id'],
  summary: "Print a job's log lines (ctx.log and console), oldest first.",
  options: {
    offset: { type: 'string', value: 'N', description: 'skip the first N lines' },
    limit: { type: 'string', value: 'N', description: 'at most N lines (default: all)' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines until the job ends' },
  },
  async run({ args, options, out, client, signal }) {
    const id = args[0] as string;
    const api = client();
    if (options.follow) {
      const ended = await followLogs(api, id, out, signal);
      return ended ? 0 : 130;
    }
    const offset = readWholeNumber(options.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = readWholeNumber(options.limit, 'limit', 1, Number.MAX_SAFE_INTEGER);
    const { logs, total } = await readLogs(api, id, offset, limit);
    out.result({ logs, total, offset }, () => logs.join('\n'));
    return 0;
  },
});

async function readLogs(
  api: BeamlineClient,
  id: string,
  offset: number,
  limit: number | undefined,
): Promise<{ logs: string[]; total: number }> {
  const logs: string[] = [];
  for (;;) {
    const wanted = limit === undefined ? LOG_PAGE : Math.min(LOG_PAGE, limit - logs.length);
    const page = await api.jobs.logs(id, { offset: offset + logs.length, limit: wanted });
    logs.push(...page.logs);
    const done = page.logs.length === 0 || offset + logs.length >= page.total || logs.length === limit;
    if (done) return { logs, total: page.total };
  }
}

/**
 * Prints the log lines as the job's event stream brings them (from the first) until the job ends,
 * then those the stream did not carry (a job that had already ended sends none).
 */
async function followLogs(api: BeamlineClient, id: string, out: Output, signal: AbortSignal): Promise<boolean> {
  const print = (line: string) => (out.json ? out.jsonLine({ line }) : out.text(line));
  let printed = 0;
  for await (const event of api.events(id, { signal })) {
    if (event.type === 'log') {
      print(event.line);
      printed++;
    }
    if (event.type === 'end') {
      for (const line of (await readLogs(api, id, printed, undefined)).logs) print(line);
      return true;
    }
  }
  return false;
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
