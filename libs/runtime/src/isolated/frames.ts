import { Buffer } from 'node:buffer';
import v8 from 'node:v8';

/**
 * The wire between a node and its sandbox processes: each value is structured-cloned with V8's
 * serializer and sent as one frame, a 4-byte big-endian length then the bytes. The reader checks
 * the length before it buffers anything, so a sandbox cannot make the node hold more than
 * `maxFrameBytes` for one message.
 */

const HEADER_BYTES = 4;

export class FrameTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`a message of ${bytes} bytes is over the limit of ${maxBytes} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/** One value as a frame; throws (DataCloneError) when it cannot be structured-cloned. */
export function encodeFrame(value: unknown): Buffer {
  const body = v8.serialize(value);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

export interface Frame {
  readonly value: unknown;
  /** Bytes of the serialized value: what the sender paid to send it. */
  readonly bytes: number;
}

/** Reassembles frames from a byte stream; `push` returns the values completed by a chunk. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Throws FrameTooLargeError for a frame over the limit, or what V8 throws for bytes that are not a value. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const values: Frame[] = [];
    while (this.buffered >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
      if (this.buffered < HEADER_BYTES + length) break;
      const frame = this.take(HEADER_BYTES + length);
      values.push({ value: v8.deserialize(frame.subarray(HEADER_BYTES)), bytes: length });
    }
    return values;
  }

  private peek(bytes: number): Buffer {
    if ((this.chunks[0] as Buffer).length < bytes) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  private take(bytes: number): Buffer {
    if ((this.chunks[0] as Buffer).length < bytes) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0] as Buffer;
    const frame = first.subarray(0, bytes);
    if (first.length === bytes) this.chunks.shift();
    else this.chunks[0] = first.subarray(bytes);
    this.buffered -= bytes;
    return frame;
  }
}
