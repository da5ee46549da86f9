import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { when } from '../format.js';
import type { DeployedFunction } from '../types.js';
import { Notice, useAction } from './action.js';

/** Your functions and the built-ins: latest version, hash and default limits. */
export function FunctionsView({ api }: { api: Api }) {
  const [functions, setFunctions] = useState<DeployedFunction[] | undefined>();
  const { run, notice } = useAction();
  useEffect(() => {
    void run(async () => {
      setFunctions((await api.get<{ functions: DeployedFunction[] }>('/v1/functions')).functions);
      return '';
    });
  }, [api]);
  return (
    <div>
      <Notice notice={notice?.kind === 'error' ? notice : undefined} />
      {!functions ? (
        <p>Loading…</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>name</th>
              <th>version</th>
              <th>sha256</th>
              <th>defaults</th>
              <th>deployed</th>
              <th>jobs</th>
            </tr>
          </thead>
          <tbody>
            {functions.map((f) => (
              <tr key={f.name}>
                <td>
                  {f.name} {f.builtin && <span class="badge">built-in</span>}
                </td>
                <td class="number">{f.version}</td>
                <td class="mono" title={f.sha256}>
                  {f.sha256.slice(0, 12)}
                </td>
                <td class="mono">{JSON.stringify(f.defaults)}</td>
                <td>{when(f.createdAt)}</td>
                <td>
                  <a href={`#/jobs?function=${encodeURIComponent(f.name)}`}>jobs</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
