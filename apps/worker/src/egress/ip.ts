/**
 * IP address parsing, CIDR matching and the classification of the addresses that tenant code may not reach by
 * default. Everything works on the 4 or 16 address bytes, so that every textual form of an address (and the IPv4
 * address inside an IPv4-mapped or otherwise embedding IPv6 address) is judged the same way.
 */
import { isIP } from 'node:net';

export interface IpAddress {
  readonly version: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly address: IpAddress;
  readonly prefix: number;
}

/** Parses an IPv4 address in dotted-decimal form or an IPv6 address (a zone such as `%eth0` is ignored). */
export function parseIp(text: string): IpAddress | undefined {
  const zone = text.indexOf('%');
  const plain = zone === -1 ? text : text.slice(0, zone);
  const version = isIP(plain);
  if (version === 4) return { version: 4, bytes: parseIpv4(plain) };
  if (version === 6) return { version: 6, bytes: parseIpv6(plain) };
  return undefined;
}

function parseIpv4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Expects text that `isIP` accepted as IPv6. */
function parseIpv6(text: string): Uint8Array {
  const bytes = new Uint8Array(16);
  let groups: number[] = [];
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = parseIpv4(piece);
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = text.indexOf('::');
  if (gap === -1) {
    groups = toGroups(text);
  } else {
    const head = toGroups(text.slice(0, gap));
    const tail = toGroups(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0)).toString(16));
  // Compress the longest run of two or more zero groups, as RFC 5952 does.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`;
}

/** Parses `address/prefix`; throws an Error saying what is wrong. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (!address || addressText.includes('%')) throw new Error(`"${addressText}" is not an IPv4 or IPv6 address`);
  const max = address.version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: max };
  const prefixText = text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new Error(`"/${prefixText}" is not a prefix length for an IPv${address.version} network (0–${max})`);
  }
  return { address, prefix };
}

export function inCidr(ip: IpAddress, cidr: Cidr): boolean {
  if (ip.version !== cidr.address.version) return false;
  const whole = Math.floor(cidr.prefix / 8);
  for (let i = 0; i < whole; i++) if (ip.bytes[i] !== cidr.address.bytes[i]) return false;
  const rest = cidr.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((ip.bytes[whole] ?? 0) & mask) === ((cidr.address.bytes[whole] ?? 0) & mask);
}

function v4(bytes: Uint8Array, offset: number): IpAddress {
  return { version: 4, bytes: bytes.slice(offset, offset + 4) };
}

const MAPPED = parseCidr('::ffff:0:0/96');

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address itself; every other address stays as it is. */
export function canonicalIp(ip: IpAddress): IpAddress {
  return ip.version === 6 && inCidr(ip, MAPPED) ? v4(ip.bytes, 12) : ip;
}

/** A network of IPv4-mapped IPv6 addresses (`::ffff:10.0.0.0/104`) is the IPv4 network; any other stays as it is. */
export function canonicalCidr(cidr: Cidr): Cidr {
  if (cidr.prefix < 96 || !inCidr(cidr.address, MAPPED)) return cidr;
  return { address: v4(cidr.address.bytes, 12), prefix: cidr.prefix - 96 };
}

/** How an IPv6 address may carry an IPv4 address inside it. */
const EMBEDDINGS: readonly { readonly cidr: Cidr; readonly name: string; readonly offset: number }[] = [
  { cidr: MAPPED, name: 'IPv4-mapped', offset: 12 },
  { cidr: parseCidr('::/96'), name: 'IPv4-compatible', offset: 12 },
  { cidr: parseCidr('::ffff:0:0:0/96'), name: 'IPv4-translated', offset: 12 },
  { cidr: parseCidr('64:ff9b::/96'), name: 'NAT64', offset: 12 },
  { cidr: parseCidr('64:ff9b:1::/48'), name: 'local NAT64', offset: 12 },
  { cidr: parseCidr('2002::/16'), name: '6to4', offset: 2 },
];

const TEREDO = parseCidr('2001::/32');

/** The IPv4 addresses an IPv6 address embeds (for Teredo, the server's and the obfuscated client's). */
export function embeddedIpv4(ip: IpAddress): { readonly address: IpAddress; readonly form: string }[] {
  if (ip.version !== 6) return [];
  const found = EMBEDDINGS.filter((e) => inCidr(ip, e.cidr)).map((e) => ({
    address: v4(ip.bytes, e.offset),
    form: e.name,
  }));
  if (inCidr(ip, TEREDO)) {
    found.push({ address: v4(ip.bytes, 4), form: 'Teredo' });
    found.push({ address: { version: 4, bytes: ip.bytes.slice(12, 16).map((b) => b ^ 0xff) }, form: 'Teredo' });
  }
  return found;
}

interface Range {
  readonly cidr: Cidr;
  readonly kind: string;
}

function ranges(list: readonly (readonly [string, string])[]): Range[] {
  return list.map(([cidr, kind]) => ({ cidr: parseCidr(cidr), kind }));
}

/** Non-public IPv4 networks, most specific first so the name given is the most telling one. */
const IPV4_RANGES = ranges([
  ['255.255.255.255/32', 'broadcast'],
  ['169.254.169.254/32', 'link-local (cloud metadata service)'],
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT (shared)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignment'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** Non-public IPv6 networks, on top of everything outside global unicast (2000::/3). */
const IPV6_RANGES = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fd00:ec2::254/128', 'cloud metadata service'],
  ['fc00::/7', 'private (unique local)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  ['100::/64', 'discard-only'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['2001::/32', 'Teredo'],
  ['2001::/23', 'IETF protocol assignment'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
]);

const GLOBAL_UNICAST = parseCidr('2000::/3');
const NAT64 = parseCidr('64:ff9b::/96');

/**
 * Says why tenant code may not reach an address by default (`"loopback"`, `"private"`, …), or `undefined` when it
 * is an ordinary public address. An IPv6 address that embeds a non-public IPv4 address is non-public too.
 */
export function nonPublicKind(address: IpAddress): string | undefined {
  const ip = canonicalIp(address);
  if (ip.version === 4) return IPV4_RANGES.find((r) => inCidr(ip, r.cidr))?.kind;
  const named = IPV6_RANGES.find((r) => inCidr(ip, r.cidr));
  if (named) return named.kind;
  for (const { address: inner, form } of embeddedIpv4(ip)) {
    const kind = nonPublicKind(inner);
    if (kind !== undefined) return `${kind} (${formatIp(inner)} inside a ${form} IPv6 address)`;
  }
  if (inCidr(ip, NAT64)) return undefined;
  if (!inCidr(ip, GLOBAL_UNICAST)) {
    const embedding = EMBEDDINGS.find((e) => inCidr(ip, e.cidr));
    return embedding ? `${embedding.name} IPv6` : 'reserved (not global unicast)';
  }
  return undefined;
}
