import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import type { Job } from '../types.js';
import { Notice, useAction } from './action.js';
import { JobTable } from './jobs.js';

/** Failed jobs, most recently ended first, each requeueable. */
export function DeadLettersView({ api }: { api: Api }) {
  const [letters, setLetters] = useState<Job[] | undefined>();
  const [refreshes, setRefreshes] = useState(0);
  const { run, notice } = useAction();
  useEffect(() => {
    void run(async () => {
      setLetters((await api.get<{ deadLetters: Job[] }>('/v1/dead-letters')).deadLetters);
      return '';
    });
  }, [api, refreshes]);
  const requeue = (id: string) =>
    run(async () => {
      await api.call('POST', `/v1/dead-letters/${id}/requeue`);
      setRefreshes((n) => n + 1);
      return `Job ${id} queued again.`;
    });
  return (
    <div>
      <div class="toolbar">
        <button type="button" onClick={() => setRefreshes((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <Notice notice={notice?.text ? notice : undefined} />
      <JobTable
        jobs={letters}
        actions={(job) => (
          <button type="button" aria-label={`Requeue job ${job.id}`} onClick={() => void requeue(job.id)}>
            Requeue
          </button>
        )}
      />
    </div>
  );
}
