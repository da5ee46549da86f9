import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How a sandbox process is started: the command line that confines it. Linux only for the
 * kernel walls; elsewhere a sandbox is a plain Node process with Node's permission model.
 *
 * - `setpriv`: the sandbox is killed when the node dies (parent-death signal), and when the node
 *   runs as root it runs as `nobody`, so a job that gets past everything else has no root files.
 * - `unshare` into new user, PID, mount (with its own /proc), network and IPC namespaces: no
 *   network interface but a down loopback, no other process visible or signalable, no node's
 *   /proc/<pid>/environ, no shared memory with the host.
 * - `prlimit`: no core dumps, 256 open files, and a data-segment limit that backs up the
 *   node's memory watchdog (Node 24 reserves ~560 MB of address space at start, measured once).
 * - Node with its permission model (no files but the sandbox runtime's own, no child
 *   processes, no worker threads, no addons, no WASI), no code generation from strings, a heap
 *   limit, and ES modules compiled through `vm` so the job's imports can be refused.
 * - An empty environment and no stdin/stdout; stderr is read only to name a crash.
 */

export type SandboxIsolation = 'namespaces' | 'process';

export interface SandboxCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** The confining commands found on the node's PATH, by absolute path. */
interface Commands {
  readonly unshare: string | undefined;
  readonly setpriv: string | undefined;
  readonly prlimit: string | undefined;
}

export interface SandboxHost {
  readonly isolation: SandboxIsolation;
  /** Why the kernel namespaces are not used, when they are not. */
  readonly reason: string | undefined;
  /** Whether the sandbox drops to the `nobody` user (the node runs as root and `setpriv` is there). */
  readonly unprivileged: boolean;
  /** Whether `prlimit` sets the sandbox's resource limits (no core dumps, open files, data segment). */
  readonly rlimits: boolean;
  /** Virtual data size of an idle sandbox, bytes: the part of the data limit that is Node's own. */
  readonly baselineDataBytes: number;
  readonly commands: Commands;
}

const NOBODY = '65534';
const MIB = 1024 * 1024;
/** Young generation, code and runtime allocations above the old-generation heap limit. */
const DATA_MARGIN_BYTES = 96 * MIB;
const FALLBACK_BASELINE_BYTES = 1024 * MIB;
const NAMESPACES = [
  '--user',
  '--map-root-user',
  '--pid',
  '--fork',
  '--kill-child',
  '--mount',
  '--mount-proc',
  '--net',
  '--ipc',
];

let probed: SandboxHost | undefined;

/** The absolute path of a command on the node's PATH (sandboxes start with no PATH of their own). */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function works(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000, env: {} });
  if (result.error) return result.error.message;
  if (result.status !== 0) return (result.stderr || `exit ${String(result.status)}`).trim().split('\n')[0];
  return undefined;
}

function permissionFlag(): string {
  return Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';
}

function baselineData(): number {
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      'process.stdout.write(/VmData:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status","utf8"))?.[1] ?? "")',
    ],
    { encoding: 'utf8', timeout: 10_000, env: {} },
  );
  const kib = Number(probe.stdout);
  return Number.isFinite(kib) && kib > 0 ? kib * 1024 : FALLBACK_BASELINE_BYTES;
}

/** What this host can confine a sandbox with; probed once per OS process. */
export function sandboxHost(): SandboxHost {
  if (probed) return probed;
  if (process.platform !== 'linux') {
    const commands = { unshare: undefined, setpriv: undefined, prlimit: undefined };
    probed = {
      isolation: 'process',
      reason: 'kernel namespaces need Linux',
      unprivileged: false,
      rlimits: false,
      baselineDataBytes: 0,
      commands,
    };
    return probed;
  }
  const found = (name: string) => {
    const path = which(name);
    return path !== undefined && works(path, ['--version']) === undefined ? path : undefined;
  };
  const commands: Commands = { unshare: found('unshare'), setpriv: found('setpriv'), prlimit: found('prlimit') };
  const unprivileged = process.getuid?.() === 0 && commands.setpriv !== undefined;
  const failure =
    commands.unshare === undefined
      ? 'unshare (util-linux) is not on PATH'
      : works(...wrap(commands, unprivileged, true, process.execPath, ['-e', '0']));
  probed = {
    isolation: failure === undefined ? 'namespaces' : 'process',
    reason: failure === undefined ? undefined : `unshare failed: ${failure}`,
    unprivileged,
    rlimits: commands.prlimit !== undefined,
    baselineDataBytes: baselineData(),
    commands,
  };
  return probed;
}

function wrap(
  commands: Commands,
  unprivileged: boolean,
  namespaces: boolean,
  command: string,
  args: string[],
): [string, string[]] {
  let line = [command, ...args];
  if (namespaces && commands.unshare) line = [commands.unshare, ...NAMESPACES, '--', ...line];
  if (commands.setpriv) {
    // The sandbox dies with the node even while it runs a busy loop that never reads its channel.
    const user = unprivileged ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
    line = [commands.setpriv, '--pdeathsig', 'KILL', ...user, '--', ...line];
  }
  return [line[0] as string, line.slice(1)];
}

/** The command line of a sandbox whose old-generation heap is limited to `memoryMb` (undefined: V8's default). */
export function sandboxCommand(host: SandboxHost, entry: URL, memoryMb: number | undefined): SandboxCommand {
  const entryPath = fileURLToPath(entry);
  const runtimeDir = fileURLToPath(new URL('../', entry));
  const node = [
    process.execPath,
    permissionFlag(),
    `--allow-fs-read=${runtimeDir}`,
    '--disallow-code-generation-from-strings',
    '--experimental-vm-modules',
    '--no-warnings',
    ...(memoryMb === undefined ? [] : [`--max-old-space-size=${memoryMb}`]),
    entryPath,
  ];
  const limits = ['--core=0', '--nofile=256'];
  if (memoryMb !== undefined) limits.push(`--data=${host.baselineDataBytes + memoryMb * MIB + DATA_MARGIN_BYTES}`);
  const limited = host.commands.prlimit ? [host.commands.prlimit, ...limits, '--', ...node] : node;
  const namespaces = host.isolation === 'namespaces';
  const [command, args] = wrap(host.commands, host.unprivileged, namespaces, limited[0] as string, limited.slice(1));
  return { command, args };
}
