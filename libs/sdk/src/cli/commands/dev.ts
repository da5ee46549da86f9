import * as esbuild from 'esbuild';
import type { BeamlineClient } from '../../client/client.js';
import type { FunctionDefaults } from '../../client/types.js';
import { bundleOptions, checkEntry, checkedBundle, describeBuildErrors, functionNameFor } from '../bundle.js';
import { defineCommand } from '../command.js';
import { followJob } from '../follow.js';
import { inline } from '../format.js';
import type { Output } from '../output.js';
import { readJsonArgument } from '../values.js';
import { deployBundle, deployLine } from './deploy.js';

export const devCommand = defineCommand({
  path: ['dev'],
  args: ['entry'],
  summary:
    'Watch a function: redeploy it on every change; with --run, run it after each new version and follow the job.',
  details: [
    'Bundles and deploys as `beamline deploy` does, then again whenever the entry or a file it imports',
    'changes. With --run, each new version runs as a job with that input, and its state, progress,',
    'log lines and result are printed as they come. Ctrl-C stops. With --json, one JSON object per line.',
  ].join('\n'),
  options: {
    name: { type: 'string', value: 'NAME', description: 'the function name (default: from the entry file)' },
    run: { type: 'string', value: 'JSON|@file', description: 'after each new version, run a job with this input' },
    defaults: { type: 'string', value: 'JSON|@file', description: 'default limits of its jobs (as for deploy)' },
  },
  async run({ args, options, out, client, signal }) {
    const entry = checkEntry(args[0] as string);
    const name = functionNameFor(entry, options.name);
    const input = options.run === undefined ? undefined : { value: readJsonArgument(options.run, '--run') };
    const defaults =
      options.defaults === undefined
        ? undefined
        : (readJsonArgument(options.defaults, '--defaults') as FunctionDefaults);
    const session = new DevSession(client(), out, entry, name, input, defaults, signal);
    const base = bundleOptions(entry);
    const watcher = await esbuild.context({
      ...base,
      plugins: [
        ...(base.plugins ?? []),
        {
          name: 'beamline-dev',
          setup(build) {
            build.onEnd((result) => session.built(result as esbuild.BuildResult<typeof base>));
          },
        },
      ],
    });
    out.note(`watching ${args[0]} as ${name} (Ctrl-C to stop)`);
    await watcher.watch();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await watcher.dispose();
    await session.settled();
    return 0;
  },
});

/** One `dev` run: deploys builds in order, and starts and follows a job for each new version. */
class DevSession {
  private queue: Promise<void> = Promise.resolve();
  private readonly following = new Set<Promise<unknown>>();
  private deployedOnce = false;

  constructor(
    private readonly api: BeamlineClient,
    private readonly out: Output,
    private readonly entry: string,
    private readonly name: string,
    private readonly input: { readonly value: unknown } | undefined,
    private readonly defaults: FunctionDefaults | undefined,
    private readonly signal: AbortSignal,
  ) {}

  /** A build has ended (esbuild's onEnd): deploy it after the previous one. */
  built(result: esbuild.BuildResult<ReturnType<typeof bundleOptions>>): void {
    this.queue = this.queue.then(() => this.deploy(result)).catch((error) => this.report('error', error));
  }

  /** Waits for the deploys and the jobs being followed. */
  async settled(): Promise<void> {
    await this.queue;
    await Promise.allSettled([...this.following]);
  }

  private async deploy(result: esbuild.BuildResult<ReturnType<typeof bundleOptions>>): Promise<void> {
    if (this.signal.aborted) return;
    if (result.errors.length > 0) {
      this.report('build-failed', new Error(await describeBuildErrors(this.entry, result.errors)));
      return;
    }
    let bundle: ReturnType<typeof checkedBundle>;
    try {
      bundle = checkedBundle(this.entry, result);
    } catch (error) {
      this.report('refused', error);
      return;
    }
    const deployed = await deployBundle(this.api, this.name, bundle, this.defaults);
    if (this.out.json) this.out.jsonLine({ type: 'deployed', ...deployed, bytes: bundle.bytes });
    else this.out.note(deployLine(deployed, bundle));
    const first = !this.deployedOnce;
    this.deployedOnce = true;
    if (this.input && (first || deployed.created)) await this.startJob(`${deployed.name}@${deployed.version}`);
  }

  private async startJob(fn: string): Promise<void> {
    const job = await this.api.jobs.submit({ function: fn, input: this.input?.value });
    const prefix = `[job ${job.id}] `;
    if (this.out.json) this.out.jsonLine({ type: 'submitted', jobId: job.id, job });
    else this.out.note(`${prefix}submitted (${fn})`);
    const following = followJob(this.api, job.id, this.out, { prefix, signal: this.signal, jsonEvents: this.out.json })
      .then((ended) => {
        if (ended?.state === 'completed' && !this.out.json) this.out.note(`${prefix}result ${inline(ended.result)}`);
      })
      .catch((error) => this.report('error', error))
      .finally(() => this.following.delete(following));
    this.following.add(following);
  }

  /** A problem that does not stop the session: shown, then back to watching. */
  private report(type: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.out.json) this.out.jsonLine({ type, message });
    else this.out.error(`${message}\nwaiting for changes…`);
  }
}
