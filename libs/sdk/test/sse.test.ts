import { describe, expect, it } from 'vitest';
import { parseEventStream, type ServerSentEvent } from '../src/client/sse.js';

function streamOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function parse(chunks: readonly string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of parseEventStream(streamOf(chunks))) events.push(event);
  return events;
}

describe('parseEventStream', () => {
  it('reads named events, joins data lines, skips comments and unknown fields', async () => {
    const events = await parse(['event: state\ndata: {"a":1}\n\n: ping\n\nid: 7\ndata: one\ndata: two\n\n']);
    expect(events).toEqual([
      { event: 'state', data: '{"a":1}' },
      { event: 'message', data: 'one\ntwo' },
    ]);
  });

  it('handles events split anywhere across chunks, CRLF and CR line ends, and multi-byte characters cut in two', async () => {
    const bytes = new TextEncoder().encode('event: log\r\ndata: {"line":"héllo → ✓"}\r\n\r\nevent: end\rdata: {}\r\r');
    const cut = [...bytes].map((byte) => new Uint8Array([byte]));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of cut) controller.enqueue(chunk);
        controller.close();
      },
    });
    const events: ServerSentEvent[] = [];
    for await (const event of parseEventStream(stream)) events.push(event);
    expect(events).toEqual([
      { event: 'log', data: '{"line":"héllo → ✓"}' },
      { event: 'end', data: '{}' },
    ]);
  });

  it('drops an event the stream cut off before its blank line', async () => {
    expect(await parse(['event: state\ndata: {}\n\nevent: end\ndata: {"cut'])).toEqual([
      { event: 'state', data: '{}' },
    ]);
  });
});
