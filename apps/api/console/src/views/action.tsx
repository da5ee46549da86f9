import { useState } from 'preact/hooks';

export interface NoticeState {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

/** Runs a user's action, keeping what came of it (its message, or the error's) for a Notice. */
export function useAction() {
  const [notice, setNotice] = useState<NoticeState | undefined>();
  const run = async (action: () => Promise<string>) => {
    try {
      setNotice({ kind: 'ok', text: await action() });
    } catch (error) {
      setNotice({ kind: 'error', text: error instanceof Error ? error.message : String(error) });
    }
  };
  return { run, notice };
}

export function Notice({ notice }: { notice: NoticeState | undefined }) {
  return (
    <p class={`notice ${notice?.kind ?? ''}`} role={notice?.kind === 'error' ? 'alert' : 'status'}>
      {notice?.text ?? ''}
    </p>
  );
}
