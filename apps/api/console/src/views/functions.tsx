import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { when } from '../format.js';
import { pausable, pauseStates, setPaused } from '../functions-api.js';
import type { DeployedFunction } from '../types.js';
import { Notice, useAction } from './action.js';
import { FunctionDefaultsCell } from './function-defaults.js';
import { PausedBadge } from './function-paused.js';

/** Pause function / Resume function for one of your functions; none for a built-in (the API refuses: 409). */
function PauseToggle({
  f,
  paused,
  busy,
  onToggle,
}: {
  f: DeployedFunction;
  paused: boolean | undefined;
  busy: boolean;
  onToggle: (pause: boolean) => void;
}) {
  if (!pausable(f) || paused === undefined) return null;
  const label = paused ? 'Resume function' : 'Pause function';
  return (
    // aria-disabled, not disabled, while the call runs: a disabled button would drop the keyboard's focus.
    <button
      type="button"
      aria-label={`${label} ${f.name}`}
      aria-disabled={busy}
      onClick={() => busy || onToggle(!paused)}
    >
      {label}
    </button>
  );
}

/** Your functions and the built-ins: latest version, hash, limits and other defaults, paused or not, with Pause and Resume. */
export function FunctionsView({ api }: { api: Api }) {
  const [functions, setFunctions] = useState<DeployedFunction[] | undefined>();
  const [paused, setPausedStates] = useState<ReadonlyMap<string, boolean>>(new Map());
  const [busy, setBusy] = useState<string | undefined>();
  const [refreshes, setRefreshes] = useState(0);
  const { run, notice } = useAction();
  useEffect(() => {
    let current = true;
    void run(async () => {
      const list = (await api.get<{ functions: DeployedFunction[] }>('/v1/functions')).functions;
      if (current) setFunctions(list);
      const states = await pauseStates(api, list);
      if (current) setPausedStates(states);
      return '';
    });
    return () => {
      current = false;
    };
  }, [api, refreshes]);

  const toggle = (name: string, pause: boolean) => {
    setBusy(name);
    void run(async () => {
      try {
        const now = await setPaused(api, name, pause);
        setPausedStates((states) => new Map(states).set(name, now));
        return now
          ? `Paused ${name}: its jobs wait, none starts until you resume it.`
          : `Resumed ${name}: its waiting jobs start again.`;
      } finally {
        setBusy(undefined);
      }
    });
  };

  return (
    <div>
      <div class="toolbar">
        <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <Notice notice={notice?.text ? notice : undefined} />
      {!functions ? (
        <p>Loading…</p>
      ) : (
        <table aria-label="Functions">
          <thead>
            <tr>
              <th>name</th>
              <th>version</th>
              <th>sha256</th>
              <th>limits and defaults</th>
              <th>deployed</th>
              <th>jobs</th>
              <th>actions</th>
            </tr>
          </thead>
          <tbody>
            {functions.map((f) => (
              <tr key={f.name} data-function={f.name} data-paused={paused.get(f.name) ?? false}>
                <td>
                  {f.name} {f.builtin && <span class="badge">built-in</span>} {paused.get(f.name) && <PausedBadge />}
                </td>
                <td class="number">{f.version}</td>
                <td class="mono" title={f.sha256}>
                  {f.sha256.slice(0, 12)}
                </td>
                <td>
                  <FunctionDefaultsCell defaults={f.defaults} />
                </td>
                <td>{when(f.createdAt)}</td>
                <td>
                  <a href={`#/jobs?function=${encodeURIComponent(f.name)}`}>jobs</a>
                </td>
                <td>
                  <PauseToggle
                    f={f}
                    paused={paused.get(f.name)}
                    busy={busy === f.name}
                    onToggle={(pause) => toggle(f.name, pause)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
