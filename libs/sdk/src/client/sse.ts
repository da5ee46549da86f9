/** One server-sent event: its name (`message` when unnamed) and its data lines joined. */
export interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Parses a text/event-stream body (the WHATWG rules: `event:` and `data:` fields, events ended by
 * a blank line, comments and other fields ignored). Ends when the stream does; an event cut off by
 * the end of the stream is dropped, as EventSource does.
 */
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const event = new EventBuilder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let end = lineEnd(buffer, done);
      while (end >= 0) {
        const dispatched = event.line(buffer.slice(0, end));
        buffer = buffer.slice(buffer[end] === '\r' && buffer[end + 1] === '\n' ? end + 2 : end + 1);
        if (dispatched) yield dispatched;
        end = lineEnd(buffer, done);
      }
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Gathers the fields of one event, line by line. */
class EventBuilder {
  private name = '';
  private data: string[] = [];

  /** Takes one line; returns the event a blank line completes. */
  line(line: string): ServerSentEvent | undefined {
    if (line === '') {
      const event = this.data.length > 0 ? { event: this.name || 'message', data: this.data.join('\n') } : undefined;
      this.name = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const raw = colon < 0 ? '' : line.slice(colon + 1);
    const value = raw.startsWith(' ') ? raw.slice(1) : raw;
    if (field === 'event') this.name = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}

/**
 * Index of the first line terminator (`\n`, `\r\n` or `\r`) in `text`, or -1. A `\r` at the very
 * end waits for more input (it may be the start of `\r\n`), unless the stream has ended.
 */
function lineEnd(text: string, ended: boolean): number {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') return i;
    if (c === '\r') return i + 1 < text.length || ended ? i : -1;
  }
  return -1;
}
