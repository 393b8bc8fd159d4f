/**
 * SSRF policy for customer-supplied URLs (see ARCHITECTURE.md, "Security model"): which hosts a meeting
 * URL, and every request its page makes in the recorder's browser, may reach.
 *
 * A URL must be http(s). By default none of the addresses its host resolves to may be loopback, private
 * (incl. CGNAT and IPv6 unique-local), link-local (incl. 169.254.169.254, the instance metadata endpoint,
 * and 169.254.170.2, the ECS task credentials endpoint), multicast, unspecified, broadcast or otherwise
 * reserved. IPv4 addresses embedded in IPv6 ones (mapped, compatible, NAT64, 6to4) are judged as the
 * IPv4 address they carry. An allowlist opens named hosts: `host` (any port) or `host:port`, exact names
 * compared case-insensitively, or `*.example.com` for every subdomain (not the apex).
 *
 * The API checks the meeting URL once (`checkUrlAllowed`); the recorder's egress proxy checks every
 * connection with `checkHost` and connects to exactly the address it checked.
 */
import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { AppError } from './errors.ts';
import { ENV } from './config.ts';

/** One allowlist entry. `port` undefined: any port. `wildcard`: `host` is a suffix (`*.host`). */
export interface AllowedHost {
  host: string;
  port?: number;
  wildcard: boolean;
}

export interface UrlPolicy {
  /** Hosts opened despite what they resolve to. Empty by default. */
  readonly allowedHosts: readonly AllowedHost[];
}

/** No host opened: only public addresses are reachable. */
export const STRICT_URL_POLICY: UrlPolicy = { allowedHosts: [] };

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all of its addresses; rejects (e.g. code ENOTFOUND) when it has none. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

// ---------------------------------------------------------------------------------------------------------
// Allowlist

/**
 * Parses allowlist entries: a comma-separated string (the environment variable) or a list.
 * Throws on an entry that is not `host`, `host:port`, `[ipv6]`, `[ipv6]:port` or `*.domain[:port]`.
 */
export function parseAllowedHosts(raw: string | readonly string[] | undefined): AllowedHost[] {
  const entries = (typeof raw === 'string' ? raw.split(',') : (raw ?? [])).map((e) => e.trim()).filter(Boolean);
  return entries.map((entry) => {
    const match = /^(\*\.)?(\[[0-9a-fA-F:.]+\]|[^:/\s[\]@?#*]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[3] === undefined ? undefined : Number(match[3]);
    if (!match || (port !== undefined && (port < 1 || port > 65535))) {
      throw new Error(`Invalid allowed host '${entry}': expected host, host:port, [ipv6]:port or *.domain`);
    }
    let host: string;
    try {
      host = normalizeHost(match[2]!);
    } catch {
      throw new Error(`Invalid allowed host '${entry}': '${match[2]}' is not a valid host name`);
    }
    const wildcard = match[1] !== undefined;
    if (wildcard && isIP(host)) throw new Error(`Invalid allowed host '${entry}': a wildcard needs a domain name`);
    return { host, port, wildcard };
  });
}

/** The policy from the environment contract: `ALLOWED_HOSTS` (comma-separated allowlist entries). */
export function urlPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): UrlPolicy {
  return { allowedHosts: parseAllowedHosts(env[ENV.allowedHosts]) };
}

/**
 * A host as it is compared and resolved: the WHATWG URL host (lower case, IPv4 in dotted decimal whatever
 * form it was written in, IPv6 compressed), without IPv6 brackets and without a trailing dot.
 * Throws on something that is not a valid host.
 */
export function normalizeHost(host: string): string {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const hostname = new URL(`http://${h.includes(':') ? `[${h}]` : h}/`).hostname;
  return hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

export function isAllowlisted(policy: UrlPolicy, host: string, port: number): boolean {
  const name = normalizeHost(host);
  return policy.allowedHosts.some(
    (entry) => (entry.port === undefined || entry.port === port) && (entry.wildcard ? name.endsWith(`.${entry.host}`) : name === entry.host),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Address classification

type Category = 'loopback' | 'private' | 'cgnat' | 'link-local' | 'multicast' | 'unspecified' | 'broadcast' | 'reserved';

const DESCRIPTIONS: Record<Category, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  cgnat: 'a private (carrier-grade NAT) address',
  'link-local': 'a link-local address',
  multicast: 'a multicast address',
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
};

/** Forbidden ranges, checked in this order (the first match names the category). */
const RANGES: [Category, 'ipv4' | 'ipv6', string, number][] = [
  ['broadcast', 'ipv4', '255.255.255.255', 32],
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['cgnat', 'ipv4', '100.64.0.0', 10],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['reserved', 'ipv4', '192.0.0.0', 24], // IETF protocol assignments
  ['reserved', 'ipv4', '192.0.2.0', 24], // documentation
  ['reserved', 'ipv4', '192.88.99.0', 24], // 6to4 relay anycast
  ['private', 'ipv4', '192.168.0.0', 16],
  ['reserved', 'ipv4', '198.18.0.0', 15], // benchmarking
  ['reserved', 'ipv4', '198.51.100.0', 24], // documentation
  ['reserved', 'ipv4', '203.0.113.0', 24], // documentation
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['reserved', 'ipv6', '::', 8], // the rest of ::/8 (embedded IPv4 forms are judged before this)
  ['private', 'ipv6', '64:ff9b:1::', 48], // local-use NAT64
  ['reserved', 'ipv6', '100::', 64], // discard-only
  ['reserved', 'ipv6', '2001::', 23], // IETF protocol assignments, incl. Teredo
  ['reserved', 'ipv6', '2001:db8::', 32], // documentation
  ['reserved', 'ipv6', '3fff::', 20], // documentation
  ['private', 'ipv6', 'fc00::', 7], // unique local (incl. fd00:ec2::254, the IPv6 metadata endpoint)
  ['link-local', 'ipv6', 'fe80::', 10],
  ['private', 'ipv6', 'fec0::', 10], // site-local (deprecated)
  ['multicast', 'ipv6', 'ff00::', 8],
];

/** One BlockList per range, so that the first (most specific) match names the category. */
const BLOCKLISTS = RANGES.map(([category, family, network, prefix]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { category, family, list };
});

/** Well-known endpoints named in the reason, because they are what an attacker is after. */
const NAMED_ENDPOINTS: Record<string, string> = {
  '169.254.169.254': 'the instance metadata endpoint',
  '169.254.170.2': 'the ECS task credentials endpoint',
  '169.254.169.253': 'the VPC DNS resolver',
  'fd00:ec2::254': 'the instance metadata endpoint',
};

/**
 * Why `address` may not be reached by default (e.g. "a private address"), or undefined for a public one.
 * Something that is not an IP address at all is refused too.
 */
export function classifyAddress(address: string): string | undefined {
  const ip = address.replace(/%.*$/, ''); // an IPv6 zone id (fe80::1%eth0)
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const embedded = embeddedIpv4(ip);
    if (embedded) {
      const reason = classifyAddress(embedded);
      return reason && `${reason} (${embedded}, embedded in IPv6)`;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // Only ranges of the address's own family: BlockList would also match IPv4 against IPv4-mapped IPv6 ranges.
  for (const { category, family: rangeFamily, list } of BLOCKLISTS) {
    if (rangeFamily === type && list.check(ip, type)) {
      const named = NAMED_ENDPOINTS[family === 6 ? compressIpv6(ip) : ip];
      return named ? `${DESCRIPTIONS[category]} (${named})` : DESCRIPTIONS[category];
    }
  }
  return undefined;
}

/** The IPv4 address an IPv6 address carries: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64, 6to4. */
function embeddedIpv4(ip: string): string | undefined {
  const w = ipv6Words(ip);
  if (!w) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && w[5] === 0xffff) return v4(w[6]!, w[7]!); // ::ffff:0:0/96
  if (zero(0, 6) && (w[6] !== 0 || w[7]! > 1)) return v4(w[6]!, w[7]!); // ::/96 except :: and ::1
  if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) return v4(w[6]!, w[7]!); // 64:ff9b::/96
  if (w[0] === 0x2002) return v4(w[1]!, w[2]!); // 2002::/16
  return undefined;
}

/** The eight 16-bit words of an IPv6 address (with or without a dotted IPv4 tail), or undefined. */
function ipv6Words(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((x) => parseInt(x, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const words = tail === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return words.length === 8 ? words : undefined;
}

function compressIpv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

// ---------------------------------------------------------------------------------------------------------
// Resolution and checks

/** A name with no addresses, answered without asking anyone (RFC 6761 `.invalid`) or by the resolver. */
export function hostNotFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}

/**
 * The system resolver (getaddrinfo, as the browser would use), with the special-use names of RFC 6761
 * answered locally: `.invalid` never resolves (no query leaves the machine) and `localhost` is loopback.
 */
export const systemResolver: Resolver = async (hostname) => {
  const name = normalizeHost(hostname);
  const family = isIP(name);
  if (family) return [{ address: name, family: family as 4 | 6 }];
  if (name === 'invalid' || name.endsWith('.invalid')) throw hostNotFound(name);
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
  }
  const answers = await dns.lookup(name, { all: true, verbatim: true });
  if (!answers.length) throw hostNotFound(name);
  return answers.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
};

export type HostVerdict =
  | { allowed: true; host: string; allowlisted: boolean; addresses: ResolvedAddress[] }
  | { allowed: false; host: string; address: string; reason: string };

/**
 * Resolves `host` once and judges every address it resolved to. Allowed only if the host is allowlisted
 * (for this port) or every address is public; the caller must connect only to `addresses`, never resolve
 * again (that is how DNS rebinding is defeated). Rejects with the resolver's error when the host does not
 * resolve.
 */
export async function checkHost(host: string, port: number, policy: UrlPolicy, resolver: Resolver = systemResolver): Promise<HostVerdict> {
  const name = normalizeHost(host);
  const allowlisted = isAllowlisted(policy, name, port);
  const family = isIP(name);
  const addresses = family ? [{ address: name, family: family as 4 | 6 }] : await resolver(name);
  if (!addresses.length) throw hostNotFound(name);
  if (!allowlisted) {
    for (const { address } of addresses) {
      const reason = classifyAddress(address);
      if (reason) return { allowed: false, host: name, address, reason };
    }
  }
  return { allowed: true, host: name, allowlisted, addresses };
}

/** 422 `url_not_allowed`: a customer URL whose scheme or destination the SSRF policy forbids. */
export class UrlNotAllowedError extends AppError {
  constructor(field: string, message: string, extensions: Record<string, unknown> = {}) {
    super(422, 'url_not_allowed', message, { field, ...extensions });
  }
}

/** How long the API waits for DNS; past it the URL passes (the recorder checks every connection anyway). */
const API_RESOLVE_TIMEOUT_MS = 3000;

/** The default port of an http(s) URL, or its explicit one. */
export function urlPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * Checks a customer-supplied URL before anything is started for it. Throws `UrlNotAllowedError` when it is
 * not http(s), or its host is not allowlisted and resolves to a forbidden address. A host that does not
 * resolve (or not in time) passes: the recorder resolves again, checks every connection, and reports
 * `page_dns_failed` when the name really does not exist.
 */
export async function checkUrlAllowed(url: string, policy: UrlPolicy, resolver: Resolver = systemResolver, field = 'meetingUrl'): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UrlNotAllowedError(field, `${field} is not a valid URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlNotAllowedError(field, `${field} must be an http(s) URL, not ${parsed.protocol}.`);
  }
  const host = normalizeHost(parsed.hostname);
  let timer: NodeJS.Timeout | undefined;
  let verdict: HostVerdict | undefined;
  try {
    verdict = await Promise.race([
      checkHost(host, urlPort(parsed), policy, resolver),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), API_RESOLVE_TIMEOUT_MS))),
    ]);
  } catch {
    return; // does not resolve: left to the recorder
  } finally {
    clearTimeout(timer);
  }
  if (verdict && !verdict.allowed) throw new UrlNotAllowedError(field, describeRefusal(field, verdict), { host, address: verdict.address });
}

/** "meetingUrl host 'x' resolves to 10.0.0.5, a private address." */
export function describeRefusal(what: string, verdict: { host: string; address: string; reason: string }): string {
  const hostText = verdict.host.includes(':') ? `[${verdict.host}]` : verdict.host;
  return verdict.host === verdict.address
    ? `${what} host '${hostText}' is ${verdict.reason}, which is not allowed.`
    : `${what} host '${hostText}' resolves to ${verdict.address}, ${verdict.reason}, which is not allowed.`;
}
