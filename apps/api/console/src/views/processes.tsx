import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { age, bytes, cpuTime } from '../format.js';
import { processHref } from '../route.js';
import type { ConsoleProcess } from '../types.js';
import { Notice, useAction } from './action.js';

type Column = 'pid' | 'node' | 'function' | 'tenant' | 'status' | 'priority' | 'cpu' | 'memory' | 'mailbox' | 'age';

const HEADINGS: Record<Column, string> = {
  pid: 'pid',
  node: 'node',
  function: 'function',
  tenant: 'tenant',
  status: 'status',
  priority: 'priority',
  cpu: 'CPU time',
  memory: 'memory',
  mailbox: 'mailbox',
  age: 'age',
};

const sortKey = (p: ConsoleProcess, column: Column): string | number => {
  switch (column) {
    case 'cpu':
      return p.cpuTimeNs ?? 0;
    case 'memory':
      return p.memory ?? 0;
    case 'mailbox':
      return p.messageQueueLength ?? 0;
    case 'age':
      return -p.firstSeenAt;
    case 'pid':
    case 'node':
    case 'function':
    case 'tenant':
    case 'status':
    case 'priority':
      return p[column] ?? '';
  }
};

const matches = (p: ConsoleProcess, filter: string) =>
  filter === '' ||
  [p.pid, p.node, p.function, p.tenant, p.status, p.priority, p.jobId].some((field) =>
    field?.toLowerCase().includes(filter),
  );

export function MessageForm({ api, pid, onDone }: { api: Api; pid: string; onDone: () => void }) {
  const [text, setText] = useState('"hello"');
  const input = useRef<HTMLInputElement>(null);
  // The form opens when its Message button is pressed: the keyboard goes on into it.
  useEffect(() => input.current?.focus(), [pid]);
  const { run, notice } = useAction();
  const send = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const message: unknown = JSON.parse(text);
      await api.call('POST', `/v1/processes/${pid}/messages`, { message });
      // The form stays open, saying so: another message is one Enter away.
      return `Sent to ${pid}.`;
    });
  };
  return (
    <form class="inline-form" onSubmit={send}>
      <label>
        Message to {pid} (JSON)
        <input ref={input} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <button type="submit">Send</button>
      <button type="button" onClick={onDone}>
        Close
      </button>
      <Notice notice={notice} />
    </form>
  );
}

export function ProcessesView({
  api,
  processes,
  admin,
}: {
  api: Api;
  processes: readonly ConsoleProcess[] | undefined;
  admin: boolean;
}) {
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ column: Column; descending: boolean }>({ column: 'cpu', descending: true });
  const [messaging, setMessaging] = useState<string | undefined>();
  const { run, notice } = useAction();
  if (!processes) return <p>Waiting for the cluster…</p>;
  const columns = (Object.keys(HEADINGS) as Column[]).filter((c) => admin || c !== 'tenant');
  const shown = processes
    .filter((p) => matches(p, filter.trim().toLowerCase()))
    .sort((a, b) => {
      const [x, y] = [sortKey(a, sort.column), sortKey(b, sort.column)];
      const order = x < y ? -1 : x > y ? 1 : a.pid.localeCompare(b.pid);
      return sort.descending ? -order : order;
    });
  const kill = (pid: string) =>
    run(async () => {
      await api.call('DELETE', `/v1/processes/${pid}`);
      return `Kill sent to ${pid}.`;
    });
  return (
    <div>
      <div class="toolbar">
        <label>
          Filter processes
          <input
            type="search"
            value={filter}
            placeholder="pid, function, status, job…"
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        </label>
        <span class="muted" aria-live="polite">
          {shown.length} of {processes.length} live processes
        </span>
      </div>
      <Notice notice={notice} />
      {messaging && <MessageForm api={api} pid={messaging} onDone={() => setMessaging(undefined)} />}
      <table class="processes">
        <thead>
          <tr>
            {columns.map((column) => (
              <th
                key={column}
                aria-sort={sort.column === column ? (sort.descending ? 'descending' : 'ascending') : 'none'}
              >
                <button
                  type="button"
                  class="sort"
                  onClick={() =>
                    setSort({ column, descending: sort.column === column ? !sort.descending : column !== 'pid' })
                  }
                >
                  {HEADINGS[column]}
                  {sort.column === column ? (sort.descending ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
            <th>job</th>
            <th>actions</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((p) => (
            <tr key={p.pid} data-pid={p.pid}>
              <td class="mono">
                <a href={processHref(p.pid)}>{p.pid}</a>
              </td>
              <td class="mono">{p.node}</td>
              <td>{p.function ?? '—'}</td>
              {admin && <td>{p.tenant ?? '—'}</td>}
              <td>{p.status ?? '—'}</td>
              <td>{p.priority ?? '—'}</td>
              <td class="number">{cpuTime(p.cpuTimeNs)}</td>
              <td class="number">{bytes(p.memory)}</td>
              <td class="number">{p.messageQueueLength ?? 0}</td>
              <td class="number">{age(p.firstSeenAt)}</td>
              <td>{p.jobId ? <a href={`#/jobs/${p.jobId}`}>{p.jobId}</a> : '—'}</td>
              <td class="actions">
                <button type="button" aria-label={`Message ${p.pid}`} onClick={() => setMessaging(p.pid)}>
                  Message
                </button>
                <button type="button" class="danger" aria-label={`Kill ${p.pid}`} onClick={() => void kill(p.pid)}>
                  Kill
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p class="muted">No live process{filter ? ' matches the filter' : ''}.</p>}
    </div>
  );
}
