import { BeamlineConnectionError } from './errors.js';
import { parseEventStream } from './sse.js';
import type { Job, JobEvent } from './types.js';

/** Opens the job's event stream once: the response body, or throws BeamlineApiError / BeamlineConnectionError. */
export type OpenEventStream = (jobId: string, signal: AbortSignal) => Promise<ReadableStream<Uint8Array>>;

/** Streams that end without an event in between before the iterator gives up. */
const MAX_EMPTY_RECONNECTS = 3;
const RECONNECT_DELAY_MS = 1000;

/**
 * The job's server-sent events as an async iterator: `state`, `progress`, `log`, then `end` with the
 * ended job. The API closes a stream after a while (a `timeout` event) or may drop it: the iterator
 * reconnects by itself and skips the log lines it has already given (the stream repeats them from
 * the first). Breaking out of the loop, or `signal`, closes the connection.
 */
export async function* jobEvents(
  open: OpenEventStream,
  jobId: string,
  options: { readonly signal?: AbortSignal } = {},
): AsyncGenerator<JobEvent, void, undefined> {
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) return;
  options.signal?.addEventListener('abort', stop, { once: true });
  let logsGiven = 0;
  let emptyStreams = 0;
  try {
    for (;;) {
      let logsSeen = 0;
      let sawEvent = false;
      let body: ReadableStream<Uint8Array>;
      try {
        body = await open(jobId, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) return;
        throw error;
      }
      try {
        for await (const { event, data } of parseEventStream(body)) {
          sawEvent = true;
          const payload = JSON.parse(data) as Record<string, unknown>;
          switch (event) {
            case 'state':
              yield { type: 'state', job: payload as Job };
              break;
            case 'progress':
              yield { type: 'progress', progress: payload.progress };
              break;
            case 'log':
              logsSeen++;
              if (logsSeen > logsGiven) {
                logsGiven = logsSeen;
                yield { type: 'log', line: String(payload.line) };
              }
              break;
            case 'end':
              yield { type: 'end', job: payload as Job };
              return;
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        if (!(error instanceof TypeError)) throw error;
        // undici reports a connection dropped mid-stream as a TypeError ("terminated"): reconnect.
      }
      if (controller.signal.aborted) return;
      emptyStreams = sawEvent ? 0 : emptyStreams + 1;
      if (emptyStreams >= MAX_EMPTY_RECONNECTS) {
        throw new BeamlineConnectionError('the job event stream', new Error('it kept closing without an event'));
      }
      if (!sawEvent) await delay(RECONNECT_DELAY_MS, controller.signal);
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    controller.abort();
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
