import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_EGRESS_LIMITS,
  EgressError,
  type EgressLimits,
  EgressPolicy,
  type EgressRequest,
  egressFetch,
  parseEgressAllow,
  parseEgressDeny,
  type ResolvedAddress,
} from '../src/egress/index.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface TestServer {
  readonly port: number;
  readonly origin: string;
  readonly seen: Seen[];
}

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real HTTP server on 127.0.0.1 that records every request it gets. */
async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, origin: `http://127.0.0.1:${port}`, seen };
}

function get(url: string, headers: [string, string][] = []): EgressRequest {
  return { url, method: 'GET', headers };
}

async function refusal(promise: Promise<unknown>): Promise<EgressError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EgressError);
  return error as EgressError;
}

/** A resolver for made-up names, so no test depends on (or sends) real DNS traffic. */
function fakeResolver(table: Record<string, readonly string[]>) {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const list = table[hostname];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

const loopbackAllowed = () => new EgressPolicy({ allow: { acme: ['127.0.0.1/32'] } });

describe('egress to loopback', () => {
  it('is refused by default, with a message saying what and how to allow it', async () => {
    const server = await serve((_req, res) => res.end('hi'));
    const error = await refusal(egressFetch('acme', get(`${server.origin}/`), new EgressPolicy({})));
    expect(error.code).toBe('refused');
    expect(error.message).toContain('127.0.0.1 is a loopback address');
    expect(error.message).toContain('"127.0.0.1/32"');
    expect(error.message).toContain('tenant "acme"');
    expect(error.message).toContain('EGRESS_ALLOW');
    expect(server.seen).toHaveLength(0);
  });

  it('is allowed for a tenant whose list has 127.0.0.1/32: status, headers and body round trip', async () => {
    const server = await serve((req, res) => {
      res.statusCode = 201;
      res.statusMessage = 'Made It';
      res.setHeader('X-Answer', '42');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end(`hello ${req.url}`);
    });
    const response = await egressFetch(
      'acme',
      get(`${server.origin}/path?q=1#frag`, [['Accept', 'text/plain']]),
      loopbackAllowed(),
    );
    expect(response).toMatchObject({
      url: `${server.origin}/path?q=1#frag`,
      status: 201,
      statusText: 'Made It',
      redirected: false,
    });
    expect(new TextDecoder().decode(response.body)).toBe('hello /path?q=1');
    expect(response.headers).toContainEqual(['x-answer', '42']);
    expect(response.headers).toContainEqual(['set-cookie', 'a=1']);
    expect(response.headers).toContainEqual(['set-cookie', 'b=2']);
    expect(response.headers.map(([name]) => name)).not.toContain('connection');
    expect(response.headers.map(([name]) => name)).not.toContain('keep-alive');
    expect(server.seen[0]?.headers.accept).toBe('text/plain');
  });

  it('sends a POST body, strips hop-by-hop headers and keeps Host as the original name', async () => {
    const server = await serve((req, res, body) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, body, type: req.headers['content-type'] }));
    });
    const body = new TextEncoder().encode('{"x":1}');
    const response = await egressFetch(
      'acme',
      {
        url: `${server.origin}/submit`,
        method: 'post',
        headers: [
          ['Content-Type', 'application/json'],
          ['Host', 'evil.example'],
          ['Connection', 'close, X-Secret'],
          ['X-Secret', 'only for the next hop'],
          ['Keep-Alive', 'timeout=5'],
          ['Transfer-Encoding', 'chunked'],
          ['Proxy-Authorization', 'Basic eA=='],
          ['X-Kept', 'yes'],
        ],
        body,
      },
      loopbackAllowed(),
    );
    expect(JSON.parse(new TextDecoder().decode(response.body))).toEqual({
      method: 'POST',
      body: '{"x":1}',
      type: 'application/json',
    });
    const seen = server.seen[0]?.headers ?? {};
    expect(seen.host).toBe(`127.0.0.1:${server.port}`);
    expect(seen['content-length']).toBe('7');
    expect(seen['x-kept']).toBe('yes');
    for (const name of ['x-secret', 'keep-alive', 'transfer-encoding', 'proxy-authorization']) {
      expect(seen[name]).toBeUndefined();
    }
  });

  it('is allowed by an IPv4-mapped IPv6 entry, and an allowed address is reached by its mapped form too', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const policy = new EgressPolicy({ allow: { acme: ['::ffff:127.0.0.0/104'] } });
    expect((await egressFetch('acme', get(`${server.origin}/`), policy)).status).toBe(200);
    const mapped = await egressFetch('acme', get(`http://[::ffff:127.0.0.1]:${server.port}/`), loopbackAllowed());
    expect(mapped.status).toBe(200);
  });

  it('is still refused for another tenant', async () => {
    const server = await serve((_req, res) => res.end('hi'));
    const error = await refusal(egressFetch('other', get(`${server.origin}/`), loopbackAllowed()));
    expect(error.message).toContain('tenant "other"');
    expect(server.seen).toHaveLength(0);
  });

  it('lets deny win over allow, by address, by host:port and by the addresses of a denied name', async () => {
    const server = await serve((_req, res) => res.end('hi'));
    const { resolve } = fakeResolver({ 'api.platform.internal': ['127.0.0.1'] });
    const policies = [
      new EgressPolicy({ allow: { acme: ['127.0.0.1/32'] }, deny: ['127.0.0.0/8'] }),
      new EgressPolicy({ allow: { acme: ['127.0.0.1/32'] }, deny: [`127.0.0.1:${server.port}`] }),
      new EgressPolicy({ allow: { acme: ['127.0.0.1/32'] }, deny: ['api.platform.internal'], resolve }),
    ];
    for (const policy of policies) {
      const error = await refusal(egressFetch('acme', get(`${server.origin}/`), policy));
      expect(error.message).toContain("one of the platform's own services");
      expect(error.message).toContain('EGRESS_DENY');
    }
    // A denied port leaves the others alone.
    const otherPort = new EgressPolicy({ allow: { acme: ['127.0.0.1/32'] }, deny: ['127.0.0.1:1'] });
    expect((await egressFetch('acme', get(`${server.origin}/`), otherPort)).status).toBe(200);
    expect(server.seen).toHaveLength(1);
  });
});

describe('literal and named forms of refused addresses', () => {
  it('refuses every loopback spelling through egressFetch, without connecting', async () => {
    const server = await serve((_req, res) => res.end('hi'));
    const urls = [
      `http://2130706433:${server.port}/`,
      `http://[::ffff:127.0.0.1]:${server.port}/`,
      `http://0x7f.1:${server.port}/`,
      `http://127.1:${server.port}/`,
      `http://017700000001:${server.port}/`,
      `http://localhost:${server.port}/`,
      `http://LOCALHOST.:${server.port}/`,
      `http://[::1]:${server.port}/`,
    ];
    for (const url of urls) {
      const error = await refusal(egressFetch('acme', get(url), new EgressPolicy({})));
      expect(error.code, url).toBe('refused');
      expect(error.message, url).toMatch(/loopback/);
    }
    expect(server.seen).toHaveLength(0);
  });

  it('classifies non-public literals (checked only: no connection is attempted)', async () => {
    const policy = new EgressPolicy({});
    const refused: Record<string, RegExp> = {
      'http://0.0.0.0/': /unspecified/,
      'http://0/': /unspecified/,
      'http://[::]/': /unspecified/,
      'http://10.1.2.3/': /private/,
      'http://172.16.0.1/': /private/,
      'http://172.31.255.255/': /private/,
      'http://192.168.1.1/': /private/,
      'http://100.64.0.1/': /carrier-grade NAT/,
      'http://169.254.169.254/latest/meta-data/': /cloud metadata/,
      'http://169.254.1.1/': /link-local/,
      'http://224.0.0.1/': /multicast/,
      'http://255.255.255.255/': /broadcast/,
      'http://240.0.0.1/': /reserved/,
      'http://[fe80::1]/': /link-local/,
      'http://[fc00::1]/': /private/,
      'http://[fd12:3456::1]/': /private/,
      'http://[ff02::1]/': /multicast/,
      'http://[fd00:ec2::254]/': /cloud metadata/,
      'http://[::ffff:169.254.169.254]/': /cloud metadata/,
      'http://[::ffff:a00:1]/': /private/,
      'http://[::127.0.0.1]/': /loopback/,
      'http://[::ffff:0:7f00:1]/': /loopback/,
      'http://[64:ff9b::7f00:1]/': /loopback .* NAT64/,
      'http://[64:ff9b::a9fe:a9fe]/': /cloud metadata/,
      'http://[2002:a00:1::]/': /private .* 6to4/,
      'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/': /Teredo/,
      'http://[2001:db8::1]/': /documentation/,
    };
    for (const [url, reason] of Object.entries(refused)) {
      const error = await refusal(policy.check('acme', new URL(url)));
      expect(error.message, url).toMatch(reason);
    }
    for (const url of [
      'http://8.8.8.8/',
      'http://[2606:4700:4700::1111]/',
      'http://[64:ff9b::808:808]/',
      'http://172.32.0.1/',
    ]) {
      const target = await policy.check('acme', new URL(url));
      expect(target.addresses, url).toHaveLength(1);
    }
  });

  it('checks every address a name resolves to', async () => {
    const { resolve } = fakeResolver({
      'mixed.example': ['93.184.216.34', '127.0.0.1'],
      'mapped.example': ['2606:4700::1', '::ffff:10.0.0.1'],
      'public.example': ['93.184.216.34', '2606:4700::1'],
    });
    const policy = new EgressPolicy({ resolve });
    const error = await refusal(policy.check('acme', new URL('http://mixed.example/')));
    expect(error.message).toContain('mixed.example resolves to a loopback address');
    expect(error.message).toContain('"mixed.example:80"');
    expect(error.message).not.toContain('127.0.0.1');
    await refusal(policy.check('acme', new URL('https://mapped.example/')));
    const target = await policy.check('acme', new URL('https://public.example/'));
    expect(target).toMatchObject({ hostname: 'public.example', port: 443 });
    expect(target.addresses.map((a) => a.address)).toEqual(['93.184.216.34', '2606:4700::1']);
  });
});

describe('connections go only to checked addresses', () => {
  it('resolves once and connects to the checked address, so a rebinding answer is never used', async () => {
    const server = await serve((req, res) => res.end(req.headers.host));
    const answers = [['127.0.0.1'], ['10.0.0.1']];
    let calls = 0;
    const policy = new EgressPolicy({
      allow: { acme: ['127.0.0.1/32'] },
      resolve: async () => (answers[Math.min(calls++, 1)] ?? []).map((address) => ({ address, family: 4 as const })),
    });
    const response = await egressFetch('acme', get(`http://rebind.test:${server.port}/`), policy);
    expect(new TextDecoder().decode(response.body)).toBe(`rebind.test:${server.port}`);
    expect(calls).toBe(1);
  });

  it('allows a host[:port] entry by name, only on its port', async () => {
    const server = await serve((_req, res) => res.end('svc'));
    const { resolve } = fakeResolver({ 'svc.internal': ['127.0.0.1'] });
    const policy = new EgressPolicy({ allow: { acme: [`svc.internal:${server.port}`] }, resolve });
    const response = await egressFetch('acme', get(`http://SVC.internal:${server.port}/`), policy);
    expect(new TextDecoder().decode(response.body)).toBe('svc');
    await refusal(egressFetch('acme', get(`http://svc.internal:${server.port + 1}/`), policy));
    // The entry names the host, not its address.
    await refusal(egressFetch('acme', get(`${server.origin}/`), policy));
  });
  it('treats localhost names as loopback without asking DNS, and reaches them when allowed', async () => {
    const server = await serve((req, res) => res.end(req.headers.host));
    const { resolve, calls } = fakeResolver({});
    const policy = new EgressPolicy({ allow: { acme: [`localhost:${server.port}`] }, resolve });
    const response = await egressFetch('acme', get(`http://localhost:${server.port}/`), policy);
    expect(new TextDecoder().decode(response.body)).toBe(`localhost:${server.port}`);
    await refusal(egressFetch('acme', get(`http://api.localhost:${server.port}/`), policy));
    expect(calls).toEqual([]);
  });
});

describe('redirects', () => {
  it('are followed and re-checked; a POST answered by 303 becomes a GET', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/start') {
        res.writeHead(303, { location: '/next' }).end();
      } else if (req.url === '/next') {
        res.writeHead(307, { location: `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/end` }).end();
      } else {
        res.end(`${req.method} ${req.url}`);
      }
    });
    const response = await egressFetch(
      'acme',
      {
        url: `${server.origin}/start`,
        method: 'POST',
        headers: [['content-type', 'text/plain']],
        body: new Uint8Array(3),
      },
      loopbackAllowed(),
    );
    expect(response).toMatchObject({ url: `${server.origin}/end`, status: 200, redirected: true });
    expect(new TextDecoder().decode(response.body)).toBe('GET /end');
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /start', 'GET /next', 'GET /end']);
    expect(server.seen[2]?.headers['content-type']).toBeUndefined();
  });

  it('to a refused address are refused', async () => {
    const targets = [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://[::1]:1/',
      'file:///etc/passwd',
    ];
    const server = await serve((req, res) => {
      res.writeHead(302, { location: targets[Number(req.url?.slice(1))] }).end();
    });
    for (const [i, target] of targets.entries()) {
      const error = await refusal(egressFetch('acme', get(`${server.origin}/${i}`), loopbackAllowed()));
      expect(error.code, target).toBe('refused');
    }
    expect(server.seen).toHaveLength(targets.length);
  });

  it('drop credentials when they leave the origin', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: `http://localhost:${server.port}/end` }).end();
      else res.end();
    });
    const policy = new EgressPolicy({ allow: { acme: ['127.0.0.1/32', `localhost:${server.port}`] } });
    const headers: [string, string][] = [
      ['authorization', 'Bearer secret'],
      ['cookie', 'session=1'],
      ['x-other', 'kept'],
    ];
    const response = await egressFetch('acme', get(`${server.origin}/start`, headers), policy);
    expect(response).toMatchObject({ url: `http://localhost:${server.port}/end`, redirected: true });
    expect(server.seen[0]?.headers.authorization).toBe('Bearer secret');
    expect(server.seen[1]?.headers).toMatchObject({ host: `localhost:${server.port}`, 'x-other': 'kept' });
    expect(server.seen[1]?.headers.authorization).toBeUndefined();
    expect(server.seen[1]?.headers.cookie).toBeUndefined();
  });

  it('stop after maxRedirects', async () => {
    const server = await serve((_req, res) => res.writeHead(302, { location: '/again' }).end());
    const limits: EgressLimits = { ...DEFAULT_EGRESS_LIMITS, maxRedirects: 3 };
    const error = await refusal(egressFetch('acme', get(`${server.origin}/`), loopbackAllowed(), limits));
    expect(error.code).toBe('too-many-redirects');
    expect(server.seen).toHaveLength(4);
  });
});

describe('limits', () => {
  it('refuses a response over maxResponseBytes, declared or streamed', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/declared') {
        res.setHeader('content-length', '5000');
        res.end('x'.repeat(5000));
      } else {
        res.write('x'.repeat(600));
        setTimeout(() => res.end('y'.repeat(600)), 20);
      }
    });
    const limits: EgressLimits = { ...DEFAULT_EGRESS_LIMITS, maxResponseBytes: 1000 };
    for (const path of ['/declared', '/streamed']) {
      const error = await refusal(egressFetch('acme', get(`${server.origin}${path}`), loopbackAllowed(), limits));
      expect(error.code, path).toBe('too-large');
      expect(error.message).toContain('1000 bytes');
    }
    const small = await egressFetch('acme', get(`${server.origin}/declared`), loopbackAllowed(), {
      ...limits,
      maxResponseBytes: 5000,
    });
    expect(small.body.byteLength).toBe(5000);
  });

  it('refuses a request body over maxRequestBytes before connecting', async () => {
    const server = await serve((_req, res) => res.end());
    const limits: EgressLimits = { ...DEFAULT_EGRESS_LIMITS, maxRequestBytes: 10 };
    const request = { url: `${server.origin}/`, method: 'PUT', headers: [], body: new Uint8Array(11) };
    const error = await refusal(egressFetch('acme', request, loopbackAllowed(), limits));
    expect(error.code).toBe('too-large');
    expect(server.seen).toHaveLength(0);
  });

  it('times out the whole request', async () => {
    const server = await serve(() => {
      // Never answers.
    });
    const started = Date.now();
    const limits: EgressLimits = { ...DEFAULT_EGRESS_LIMITS, timeoutMs: 300 };
    const error = await refusal(egressFetch('acme', get(`${server.origin}/`), loopbackAllowed(), limits));
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('300 ms');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('times out a body that trickles', async () => {
    const server = await serve((_req, res) => {
      res.write('a');
      // The rest never comes.
    });
    const limits: EgressLimits = { ...DEFAULT_EGRESS_LIMITS, timeoutMs: 300 };
    const error = await refusal(egressFetch('acme', get(`${server.origin}/`), loopbackAllowed(), limits));
    expect(error.code).toBe('timeout');
  });
});

describe('requests that are refused whatever the policy', () => {
  it('refuses schemes other than http: and https:', async () => {
    const policy = new EgressPolicy({ allow: { acme: ['0.0.0.0/0', '::/0'] } });
    for (const url of [
      'file:///etc/passwd',
      'ftp://127.0.0.1/',
      'data:text/plain,hi',
      'ws://127.0.0.1/',
      'gopher://x/',
    ]) {
      const error = await refusal(egressFetch('acme', get(url), policy));
      expect(error.message, url).toContain('only http: and https:');
    }
    expect((await refusal(egressFetch('acme', get('not a url'), policy))).code).toBe('invalid');
  });

  it('refuses credentials in the URL and the CONNECT method', async () => {
    const server = await serve((_req, res) => res.end());
    const policy = loopbackAllowed();
    const withCredentials = `http://user:pw@127.0.0.1:${server.port}/`;
    expect((await refusal(egressFetch('acme', get(withCredentials), policy))).message).toContain('credentials');
    const connect = { url: `${server.origin}/`, method: 'CONNECT', headers: [] };
    expect((await refusal(egressFetch('acme', connect, policy))).message).toContain('CONNECT');
    const badHeader = get(`${server.origin}/`, [['x-a', 'one\r\nx-b: two']]);
    expect((await refusal(egressFetch('acme', badHeader, policy))).code).toBe('invalid');
    expect(server.seen).toHaveLength(0);
  });

  it('reports a connection failure as an EgressError', async () => {
    const server = await serve((_req, res) => res.end());
    const port = server.port;
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
    const error = await refusal(egressFetch('acme', get(`http://127.0.0.1:${port}/`), loopbackAllowed()));
    expect(error.code).toBe('network');
    expect(error.message).toContain('ECONNREFUSED');
  });
});

describe('parseEgressAllow', () => {
  it('parses a per-tenant JSON object; blank is empty', () => {
    expect(parseEgressAllow('{"acme": [" 10.1.2.0/24 ", "db.internal:5432", "::1/128", "[::1]:8080"]}')).toEqual({
      acme: ['10.1.2.0/24', 'db.internal:5432', '::1/128', '[::1]:8080'],
    });
    expect(parseEgressAllow('  ')).toEqual({});
  });

  it('names what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['{acme: []}', /EGRESS_ALLOW is not valid JSON/],
      ['["10.0.0.0/8"]', /must be a JSON object .* not an array/],
      ['null', /not null/],
      ['"10.0.0.0/8"', /not a string/],
      ['{"acme": "10.0.0.0/8"}', /tenant "acme" must map to an array of strings/],
      ['{"acme": [1]}', /tenant "acme" must map to an array of strings/],
      ['{"acme": ["10.0.0.0/33"]}', /tenant "acme": "10.0.0.0\/33": "\/33" is not a prefix length .*0–32/],
      ['{"acme": ["::1/129"]}', /"\/129" is not a prefix length/],
      ['{"acme": ["300.1.2.3/8"]}', /"300.1.2.3" is not an IPv4 or IPv6 address/],
      ['{"acme": ["db.internal:99999"]}', /"99999" is not a port/],
      ['{"acme": ["exa mple.com"]}', /"exa mple.com" is not a host name/],
      ['{"acme": ["127.1"]}', /"127.1" is not a host name or an IPv4 address/],
      ['{"acme": [""]}', /tenant "acme": an entry is empty/],
      ['{"acme": ["::1:80:x"]}', /write an IPv6 address with a port as \[::1\]:80/],
      ['{"": []}', /empty tenant name/],
    ];
    for (const [text, message] of cases) expect(() => parseEgressAllow(text), text).toThrow(message);
  });

  it('is checked again by EgressPolicy, and parseEgressDeny takes a list', () => {
    expect(() => new EgressPolicy({ allow: { acme: ['10.0.0.0/40'] } })).toThrow(/tenant "acme"/);
    expect(() => new EgressPolicy({ deny: ['nope nope'] })).toThrow(/deny list/);
    expect(parseEgressDeny('api.internal:443, 10.0.0.0/8 redis.internal')).toEqual([
      'api.internal:443',
      '10.0.0.0/8',
      'redis.internal',
    ]);
    expect(parseEgressDeny('["10.0.0.0/8"]')).toEqual(['10.0.0.0/8']);
    expect(() => parseEgressDeny('10.0.0.0/99')).toThrow(/EGRESS_DENY/);
  });
});
