import { connect } from 'node:net';

export type RespReply = string | number | null;

/** Parses one RESP reply (simple string, error, integer or bulk string); undefined until complete. */
function parseReply(buffer: Buffer): { value: RespReply } | { error: string } | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) return undefined;
  const line = buffer.subarray(1, end).toString('utf8');
  switch (String.fromCharCode(buffer[0] ?? 0)) {
    case '+':
      return { value: line };
    case '-':
      return { error: line };
    case ':':
      return { value: Number(line) };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null };
      if (buffer.length < end + 2 + length + 2) return undefined;
      return { value: buffer.subarray(end + 2, end + 2 + length).toString('utf8') };
    }
    default:
      return { error: `unsupported RESP reply: ${buffer.toString('utf8', 0, Math.min(buffer.length, 40))}` };
  }
}

/**
 * Sends one command to the Redis server on 127.0.0.1:`port` and resolves with its reply
 * (arrays are not supported). Enough for health checks and tests without a client library.
 */
export function redisCommand(port: number, args: readonly string[], timeoutMs = 1000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new Error(`redis at 127.0.0.1:${port} did not answer within ${timeoutMs} ms`)),
    );
    socket.once('error', fail);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const reply = parseReply(buffer);
      if (!reply) return;
      socket.end();
      if ('error' in reply) reject(new Error(`redis replied with an error: ${reply.error}`));
      else resolve(reply.value);
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}
