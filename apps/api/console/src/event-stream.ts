/** One server-sent event. */
export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface FollowOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly onEvent: (event: StreamEvent) => void;
  readonly onState?: (state: StreamState) => void;
  /** A response that is not a stream: 401 and 404 end the following, anything else is retried. */
  readonly onRefused?: (status: number) => void;
  /** Stop after the stream ends on its own (a job's events end with the job). */
  readonly once?: boolean;
}

/** Splits a text/event-stream body into events (fields `event` and `data`; comments ignored). */
function parseEvents(block: string): StreamEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return data.length > 0 ? { event, data: data.join('\n') } : undefined;
}

const RETRY_MS = [500, 1000, 2000, 5000];

/**
 * Follows a server-sent event stream with an Authorization header (which EventSource cannot
 * send), reconnecting with backoff whenever it drops: the API restarting costs a few seconds.
 * Returns the way to stop.
 */
export function followEvents(options: FollowOptions): () => void {
  const abort = new AbortController();
  let failures = 0;
  const run = async () => {
    while (!abort.signal.aborted) {
      options.onState?.(failures === 0 ? 'connecting' : 'reconnecting');
      try {
        const response = await fetch(options.url, {
          headers: { ...options.headers, accept: 'text/event-stream' },
          signal: abort.signal,
        });
        if (!response.ok || !response.body) {
          options.onRefused?.(response.status);
          if (response.status === 401 || response.status === 404) return;
          throw new Error(String(response.status));
        }
        failures = 0;
        options.onState?.('live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const event = parseEvents(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (event) options.onEvent(event);
            end = buffer.indexOf('\n\n');
          }
        }
        if (options.once) return;
      } catch {
        if (abort.signal.aborted) return;
        failures++;
      }
      options.onState?.('reconnecting');
      const delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)] as number;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };
  void run();
  return () => abort.abort();
}
