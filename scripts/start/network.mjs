// Addresses and ports: whether something can listen, whether a Redis answers, what to print.
import { connect, createServer } from 'node:net';

/** Whether a Redis answers PING (or asks for a password) at 127.0.0.1:port. */
export function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')));
    socket.on('error', () => resolve(false));
  });
}

/** Undefined when a server could listen on host:port now, else why not (the error's code, e.g. EADDRINUSE). */
export function listenRefusal(port, host) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Words for a refusal of `listenRefusal`. */
export function describeRefusal(refusal, host, port) {
  if (refusal === 'EADDRINUSE') return `port ${port} on ${host} is already in use`;
  if (refusal === 'EACCES') return `listening on ${host}:${port} is not permitted`;
  if (refusal === 'EADDRNOTAVAIL') return `${host} is not an address of this machine`;
  return `cannot listen on ${host}:${port} (${refusal})`;
}

/** An address a client on this machine reaches a server listening on `host` at (every interface: loopback). */
export function reachableHost(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Where a server listening on `host` can be reached from, in words for the banner. */
export function listeningOn(host, port) {
  if (host === '0.0.0.0' || host === '::') return `listening on every interface, port ${port}`;
  return `listening on ${host} only`;
}

/** A Redis URL (or comma-separated URLs) with any password replaced by ***. */
export function withoutPassword(urls) {
  return urls.replace(/(rediss?:\/\/[^:@/\s,]*:)[^@/\s,]+@/g, '$1***@');
}
