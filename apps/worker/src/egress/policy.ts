/**
 * Which destinations tenant code may reach. By default: every public address over http: and https:, and nothing
 * else (no loopback, private, link-local, CGNAT, multicast, reserved or node-own address, in any textual or IPv6
 * embedding form). An operator can allow private destinations per tenant, and deny the platform's own services to
 * everyone.
 */
import { promises as dns } from 'node:dns';
import { networkInterfaces } from 'node:os';
import { domainToASCII } from 'node:url';
import { EGRESS_ALLOW_VARIABLE, EGRESS_DENY_VARIABLE, EgressError } from './errors.js';
import {
  type Cidr,
  canonicalCidr,
  canonicalIp,
  embeddedIpv4,
  formatIp,
  type IpAddress,
  inCidr,
  nonPublicKind,
  parseCidr,
  parseIp,
} from './ip.js';

/** One allow or deny entry: a network (CIDR or single address) or a host name, either optionally limited to a port. */
export type EgressEntry =
  | { readonly text: string; readonly type: 'network'; readonly cidr: Cidr; readonly port?: number }
  | { readonly text: string; readonly type: 'host'; readonly host: string; readonly port?: number };

/** A resolved address, as `dns.lookup` with `all: true` gives it. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to all its addresses. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface EgressPolicyOptions {
  /** Per tenant: networks (`"10.1.2.0/24"`, `"::1/128"`) or `host[:port]` entries it may reach although private. */
  readonly allow?: Readonly<Record<string, readonly string[]>>;
  /** The platform's own services (`host[:port]`, address or CIDR): refused for every tenant, whatever `allow` says. */
  readonly deny?: readonly string[];
  /** Name resolution; `dns.lookup` with `all: true` by default. */
  readonly resolve?: Resolver;
  /** Whether this node's own interface addresses count as non-public (default true). */
  readonly ownAddressesArePrivate?: boolean;
}

/** A destination that passed the policy: connect only to `addresses`, and name `hostname` in Host and SNI. */
export interface EgressTarget {
  readonly url: URL;
  /** The URL's host name, without the brackets of an IPv6 literal. */
  readonly hostname: string;
  readonly port: number;
  /** Every address the host name resolved to, all checked. */
  readonly addresses: readonly ResolvedAddress[];
}

const DENY_CACHE_MS = 30_000;

const LOCALHOST: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

const defaultResolve: Resolver = async (hostname) => {
  const found = await dns.lookup(hostname, { all: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Lower-case ASCII (punycode) form of a host name, without a trailing dot; `undefined` if it is not one. */
function normalizeHost(host: string): string | undefined {
  const ascii = domainToASCII(host.toLowerCase());
  if (ascii === '' || ascii.length > 253) return undefined;
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  const label = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
  const labels = name.split('.');
  if (!labels.every((l) => label.test(l))) return undefined;
  // A name whose last label is numeric is an IPv4 address to a URL parser ("127.1"), never a host name.
  if (/^(0x[0-9a-f]*|\d+)$/.test(labels[labels.length - 1] ?? '')) return undefined;
  return name;
}

function parsePort(text: string, entry: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) throw new Error(`"${entry}": "${text}" is not a port (1–65535)`);
  return port;
}

/**
 * Parses an allow or deny entry: `10.1.2.0/24`, `::1/128`, `127.0.0.1`, `127.0.0.1:8080`, `[::1]:8080`,
 * `db.internal` or `db.internal:5432`. Throws an Error saying what is wrong.
 */
export function parseEgressEntry(text: string): EgressEntry {
  const entry = text.trim();
  if (entry === '') throw new Error('an entry is empty');
  if (entry.includes('/')) {
    try {
      return { text: entry, type: 'network', cidr: canonicalCidr(parseCidr(entry)) };
    } catch (error) {
      throw new Error(`"${entry}": ${(error as Error).message}`);
    }
  }
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    const address = parseIp(bracketed[1] ?? '');
    if (address?.version !== 6 || bracketed[1]?.includes('%')) {
      throw new Error(`"${entry}": "${bracketed[1]}" is not an IPv6 address`);
    }
    const cidr = canonicalCidr({ address, prefix: 128 });
    const portText = bracketed[2];
    return portText === undefined
      ? { text: entry, type: 'network', cidr }
      : { text: entry, type: 'network', cidr, port: parsePort(portText, entry) };
  }
  if (parseIp(entry) && !entry.includes('%')) {
    return { text: entry, type: 'network', cidr: canonicalCidr(parseCidr(entry)) };
  }
  const colon = entry.indexOf(':');
  if (colon !== -1 && entry.indexOf(':', colon + 1) !== -1) {
    throw new Error(
      `"${entry}" is not an address, a network or host[:port] (write an IPv6 address with a port as [::1]:80)`,
    );
  }
  const hostText = colon === -1 ? entry : entry.slice(0, colon);
  const port = colon === -1 ? undefined : parsePort(entry.slice(colon + 1), entry);
  if (parseIp(hostText)) {
    const cidr = canonicalCidr(parseCidr(hostText));
    return port === undefined ? { text: entry, type: 'network', cidr } : { text: entry, type: 'network', cidr, port };
  }
  const host = normalizeHost(hostText);
  if (host === undefined) throw new Error(`"${entry}": "${hostText}" is not a host name or an IPv4 address`);
  return port === undefined ? { text: entry, type: 'host', host } : { text: entry, type: 'host', host, port };
}

/**
 * Parses the operator's per-tenant allow list: a JSON object mapping a tenant to the entries it may reach although
 * they are private, e.g. `{"acme": ["10.1.2.0/24", "db.internal:5432"]}`. Blank text is an empty list. Throws an Error
 * naming what is wrong.
 */
export function parseEgressAllow(text: string): Record<string, string[]> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${EGRESS_ALLOW_VARIABLE} is not valid JSON (${(error as Error).message}); expected an object such as {"tenant": ["10.1.2.0/24", "db.internal:5432"]}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new Error(
      `${EGRESS_ALLOW_VARIABLE} must be a JSON object mapping a tenant to a list of entries, such as {"tenant": ["10.1.2.0/24"]}, not ${got}`,
    );
  }
  const result: Record<string, string[]> = {};
  for (const [tenant, entries] of Object.entries(value)) {
    if (tenant === '') throw new Error(`${EGRESS_ALLOW_VARIABLE} has an empty tenant name`);
    if (!Array.isArray(entries) || !entries.every((e): e is string => typeof e === 'string')) {
      throw new Error(
        `${EGRESS_ALLOW_VARIABLE}: tenant "${tenant}" must map to an array of strings such as ["10.1.2.0/24", "db.internal:5432"]`,
      );
    }
    for (const entry of entries) {
      try {
        parseEgressEntry(entry);
      } catch (error) {
        throw new Error(`${EGRESS_ALLOW_VARIABLE}: tenant "${tenant}": ${(error as Error).message}`);
      }
    }
    result[tenant] = entries.map((e) => e.trim());
  }
  return result;
}

/**
 * Parses the operator's deny list: a JSON array of entries, or entries separated by commas or white space. Throws an
 * Error naming what is wrong.
 */
export function parseEgressDeny(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let entries: unknown;
  if (trimmed.startsWith('[')) {
    try {
      entries = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`${EGRESS_DENY_VARIABLE} is not a valid JSON array (${(error as Error).message})`);
    }
    if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
      throw new Error(`${EGRESS_DENY_VARIABLE} must be an array of strings`);
    }
  } else {
    entries = trimmed.split(/[\s,]+/);
  }
  const list = (entries as string[]).map((e) => e.trim());
  for (const entry of list) {
    try {
      parseEgressEntry(entry);
    } catch (error) {
      throw new Error(`${EGRESS_DENY_VARIABLE}: ${(error as Error).message}`);
    }
  }
  return list;
}

function portMatches(entry: EgressEntry, port: number): boolean {
  return entry.port === undefined || entry.port === port;
}

/** Whether the network contains the address or an IPv4 address the address embeds. */
function networkCovers(cidr: Cidr, ip: IpAddress): boolean {
  return inCidr(ip, cidr) || embeddedIpv4(ip).some((e) => inCidr(e.address, cidr));
}

function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      const ip = parseIp(info.address);
      if (ip) own.add(formatIp(canonicalIp(ip)));
    }
  }
  return own;
}

export class EgressPolicy {
  readonly #allow: ReadonlyMap<string, readonly EgressEntry[]>;
  readonly #deny: readonly EgressEntry[];
  readonly #resolve: Resolver;
  readonly #own: ReadonlySet<string>;
  readonly #denyResolved = new Map<string, { readonly at: number; readonly addresses: Promise<IpAddress[]> }>();

  /** Throws an Error naming any entry that is not valid. */
  constructor(options: EgressPolicyOptions) {
    const allow = new Map<string, EgressEntry[]>();
    for (const [tenant, entries] of Object.entries(options.allow ?? {})) {
      allow.set(
        tenant,
        entries.map((entry) => {
          try {
            return parseEgressEntry(entry);
          } catch (error) {
            throw new Error(`egress allow list: tenant "${tenant}": ${(error as Error).message}`);
          }
        }),
      );
    }
    this.#allow = allow;
    this.#deny = (options.deny ?? []).map((entry) => {
      try {
        return parseEgressEntry(entry);
      } catch (error) {
        throw new Error(`egress deny list: ${(error as Error).message}`);
      }
    });
    this.#resolve = options.resolve ?? defaultResolve;
    this.#own = options.ownAddressesArePrivate === false ? new Set() : ownAddresses();
  }

  /**
   * Checks a URL for a tenant: its scheme, then every address its host resolves to. Returns the checked addresses,
   * the only ones the request may connect to. Throws EgressError.
   */
  async check(tenant: string, url: URL): Promise<EgressTarget> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new EgressError(
        `Egress refused: ${url.protocol} URLs cannot be fetched, only http: and https: ones (no operator setting changes this)`,
        'refused',
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new EgressError(
        'Egress refused: a URL with credentials (user:password@) cannot be fetched; send an Authorization header instead',
        'invalid',
      );
    }
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const where = `${url.protocol}//${url.host}`;
    const literal = parseIp(hostname);
    let addresses: readonly ResolvedAddress[];
    const name = literal ? undefined : (normalizeHost(hostname) ?? hostname);
    if (literal) {
      addresses = [{ address: hostname, family: literal.version }];
    } else if (name === 'localhost' || name?.endsWith('.localhost')) {
      // Loopback whatever the resolver says (RFC 6761), so it is judged the same on every node.
      addresses = LOCALHOST;
    } else {
      try {
        addresses = await this.#resolve(hostname);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new EgressError(`Egress failed: the host name ${hostname} could not be resolved (${code})`, 'network', {
          cause: error,
        });
      }
      if (addresses.length === 0) {
        throw new EgressError(`Egress failed: the host name ${hostname} has no addresses`, 'network');
      }
    }
    const checked: ResolvedAddress[] = [];
    for (const resolved of addresses) {
      const parsed = parseIp(resolved.address);
      if (!parsed) throw new EgressError(`Egress failed: ${hostname} resolved to something that is not an address`);
      const ip = canonicalIp(parsed);
      if (await this.#denied(ip, name, port)) {
        throw new EgressError(
          `Egress refused: ${where} is one of the platform's own services, which no tenant may reach ` +
            `(an operator allows it only by removing it from ${EGRESS_DENY_VARIABLE})`,
          'refused',
        );
      }
      const kind = nonPublicKind(ip) ?? (this.#own.has(formatIp(ip)) ? 'an address of this worker node' : undefined);
      if (kind !== undefined && !this.#allowed(tenant, ip, name, port)) {
        const network = `${formatIp(ip)}/${ip.version === 4 ? 32 : 128}`;
        const what = literal ? `${hostname} is a ${kind} address` : `${hostname} resolves to a ${kind} address`;
        const suggestion = literal ? `"${network}" or "${url.host}"` : `"${hostname}:${port}" (or its network)`;
        throw new EgressError(
          `Egress refused: ${what}, which tenant code may not reach by default ` +
            '(loopback, private, link-local, CGNAT, multicast and other non-public addresses are refused). ' +
            `An operator allows it by adding ${suggestion} to tenant "${tenant}" in ${EGRESS_ALLOW_VARIABLE}.`,
          'refused',
        );
      }
      const address = formatIp(ip);
      checked.push({ address: resolved.address.includes('%') ? resolved.address : address, family: ip.version });
    }
    return { url, hostname, port, addresses: checked };
  }

  #allowed(tenant: string, ip: IpAddress, name: string | undefined, port: number): boolean {
    const entries = this.#allow.get(tenant) ?? [];
    return entries.some(
      (e) =>
        portMatches(e, port) && (e.type === 'network' ? inCidr(ip, e.cidr) : name !== undefined && e.host === name),
    );
  }

  async #denied(ip: IpAddress, name: string | undefined, port: number): Promise<boolean> {
    for (const entry of this.#deny) {
      if (!portMatches(entry, port)) continue;
      if (entry.type === 'network') {
        if (networkCovers(entry.cidr, ip)) return true;
        continue;
      }
      if (name !== undefined && entry.host === name) return true;
      // The service's addresses are refused too, whatever name (or literal) the tenant reaches them by.
      const addresses = await this.#denyAddresses(entry.host);
      if (addresses.some((a) => networkCovers({ address: a, prefix: a.version === 4 ? 32 : 128 }, ip))) return true;
    }
    return false;
  }

  #denyAddresses(host: string): Promise<IpAddress[]> {
    const cached = this.#denyResolved.get(host);
    if (cached && Date.now() - cached.at < DENY_CACHE_MS) return cached.addresses;
    const addresses = this.#resolve(host).then(
      (list) => list.flatMap((a) => parseIp(a.address) ?? []).map(canonicalIp),
      () => [],
    );
    this.#denyResolved.set(host, { at: Date.now(), addresses });
    return addresses;
  }
}
