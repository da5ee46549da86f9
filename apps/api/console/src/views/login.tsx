import { useEffect, useRef, useState } from 'preact/hooks';
import { keyIsValid } from '../api.js';

/** Asks once for the API key; the console keeps it for this browser session only. */
export function Login({ onKey, reason }: { onKey: (key: string) => void; reason: string | undefined }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(reason);
  const [checking, setChecking] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  // The key is all this page asks for.
  useEffect(() => input.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setChecking(true);
    try {
      if (await keyIsValid(key.trim())) onKey(key.trim());
      else setError('The API does not know this key.');
    } catch {
      setError('The API is unreachable; try again.');
    } finally {
      setChecking(false);
    }
  };
  return (
    <main class="login">
      <h1>Beamline console</h1>
      <form onSubmit={submit}>
        <label>
          API key
          <input
            type="password"
            autoComplete="off"
            required
            minLength={16}
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            ref={input}
          />
        </label>
        <button type="submit" disabled={checking}>
          Open the console
        </button>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <p class="muted">
          The admin key shows the whole cluster; a tenant's key shows that tenant's jobs, processes and functions. The
          key stays in this tab's session storage.
        </p>
      </form>
    </main>
  );
}
