/**
 * The SSRF policy (functions/core/url-policy.ts): how addresses are classified, how URLs written in odd
 * forms are judged, the allowlist, and the API check with an injected resolver (no DNS traffic).
 */
import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/config.ts';
import {
  checkHost,
  checkUrlAllowed,
  classifyAddress,
  isAllowlisted,
  parseAllowedHosts,
  STRICT_URL_POLICY,
  systemResolver,
  UrlNotAllowedError,
  urlPolicyFromEnv,
  type Resolver,
} from '../../functions/core/url-policy.ts';

/** A resolver with fixed answers; any other name does not exist. Records what it was asked. */
function fakeResolver(answers: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (host: string) => {
    asked.push(host);
    const addresses = answers[host];
    if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 }));
  };
  return Object.assign(resolver, { asked });
}

const policy = (entries: string) => ({ allowedHosts: parseAllowedHosts(entries) });

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['fc00::1', 'private'],
    ['fd00:ec2::254', 'instance metadata endpoint'],
    ['169.254.169.254', 'instance metadata endpoint'],
    ['169.254.170.2', 'ECS task credentials endpoint'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    // IPv4 inside IPv6: judged as the IPv4 address it carries.
    ['::ffff:169.254.169.254', 'instance metadata endpoint'],
    ['::ffff:a9fe:a9fe', 'instance metadata endpoint'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::a9fe:aa02', 'ECS task credentials endpoint'], // IPv4-compatible ::169.254.170.2
    ['64:ff9b::a00:5', 'private'], // NAT64 of 10.0.0.5
    ['2002:c0a8:101::1', 'private'], // 6to4 of 192.168.1.1
    ['not-an-ip', 'not an IP address'],
  ])('%s is refused (%s)', (address, why) => {
    expect(classifyAddress(address)).toContain(why);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '11.0.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    '%s is public',
    (address) => {
      expect(classifyAddress(address)).toBeUndefined();
    },
  );
});

describe('checkUrlAllowed: literal hosts in every form a URL parser accepts', () => {
  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.170.2/v2/credentials/x',
    'http://2852039166/', // 169.254.169.254 as one decimal number
    'http://0xA9.0xFE.0xA9.0xFE/', // hex octets
    'http://0251.0376.0251.0376/', // octal octets
    'http://169.254.43518/', // a.b.c with c as 16 bits
    'http://0xa9fea9fe/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]:80/',
    'http://[0:0:0:0:0:ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://127.1/',
    'http://0x7f.1/',
    'http://0/',
    'http://[::]/',
    'http://[::1]:8080/',
    'https://10.1.2.3:8443/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://[fe80::1]/',
  ])('%s -> 422 url_not_allowed', async (url) => {
    const resolver = fakeResolver({});
    const error = await checkUrlAllowed(url, STRICT_URL_POLICY, resolver).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UrlNotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'url_not_allowed', extensions: { field: 'meetingUrl' } });
    expect(resolver.asked).toEqual([]); // a literal is judged as is, never looked up
  });

  it('names the host, the address and why', async () => {
    await expect(checkUrlAllowed('http://2852039166/', STRICT_URL_POLICY)).rejects.toThrow(
      "meetingUrl host '169.254.169.254' is a link-local address (the instance metadata endpoint), which is not allowed.",
    );
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,hi', 'chrome://settings', 'ws://example.com/'])('refuses the scheme of %s', async (url) => {
    await expect(checkUrlAllowed(url, STRICT_URL_POLICY, fakeResolver({}))).rejects.toMatchObject({ code: 'url_not_allowed', message: expect.stringContaining('http(s)') });
  });
});

describe('checkUrlAllowed: names', () => {
  const resolver = fakeResolver({
    'meet.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'internal.example.com': ['10.0.0.5'],
    'mixed.example.com': ['93.184.216.34', '169.254.170.2'],
    'v6.example.com': ['::ffff:169.254.169.254'],
  });

  it('passes a name whose every address is public', async () => {
    await expect(checkUrlAllowed('https://meet.example.com/room/1', STRICT_URL_POLICY, resolver)).resolves.toBeUndefined();
  });

  it('refuses a name that resolves to a private address, and says so', async () => {
    await expect(checkUrlAllowed('https://internal.example.com/', STRICT_URL_POLICY, resolver)).rejects.toMatchObject({
      status: 422,
      code: 'url_not_allowed',
      message: "meetingUrl host 'internal.example.com' resolves to 10.0.0.5, a private address, which is not allowed.",
      extensions: { field: 'meetingUrl', host: 'internal.example.com', address: '10.0.0.5' },
    });
  });

  it('refuses a name if any one of its addresses is forbidden', async () => {
    await expect(checkUrlAllowed('https://mixed.example.com/', STRICT_URL_POLICY, resolver)).rejects.toThrow(/169\.254\.170\.2, a link-local address \(the ECS task credentials endpoint\)/);
  });

  it('refuses a name that resolves to an IPv4-mapped forbidden address', async () => {
    await expect(checkUrlAllowed('https://v6.example.com/', STRICT_URL_POLICY, resolver)).rejects.toThrow(/instance metadata endpoint/);
  });

  it('compares names case-insensitively and without a trailing dot', async () => {
    await expect(checkUrlAllowed('https://INTERNAL.Example.COM./', STRICT_URL_POLICY, resolver)).rejects.toMatchObject({ code: 'url_not_allowed' });
  });

  it('lets a name that does not resolve pass (the recorder reports page_dns_failed)', async () => {
    await expect(checkUrlAllowed('https://no-such-host.example.com/', STRICT_URL_POLICY, resolver)).resolves.toBeUndefined();
  });

  it('uses the field name it is given', async () => {
    await expect(checkUrlAllowed('http://10.0.0.1/', STRICT_URL_POLICY, resolver, 'layoutUrl')).rejects.toMatchObject({ extensions: { field: 'layoutUrl' } });
  });
});

describe('allowlist', () => {
  it('parses host, host:port, IPv6 and wildcard entries, normalizing hosts', () => {
    expect(parseAllowedHosts(' Meet.Example.COM , 127.0.0.1:8080,*.corp.example.org, [::1]:99, 2130706433 ')).toEqual([
      { host: 'meet.example.com', port: undefined, wildcard: false },
      { host: '127.0.0.1', port: 8080, wildcard: false },
      { host: 'corp.example.org', port: undefined, wildcard: true },
      { host: '::1', port: 99, wildcard: false },
      { host: '127.0.0.1', port: undefined, wildcard: false },
    ]);
    expect(parseAllowedHosts('')).toEqual([]);
    expect(parseAllowedHosts(undefined)).toEqual([]);
  });

  it.each(['http://example.com', 'example.com/path', 'example.com:0', 'example.com:65536', 'user@example.com', '*.10.0.0.1', '*', 'a b', 'exa*mple.com'])('rejects the entry %s', (entry) => {
    expect(() => parseAllowedHosts(entry)).toThrow(/Invalid allowed host/);
  });

  it('matches exact names on any port, or only on the port given', () => {
    const p = policy('meet.internal, 10.0.0.7:8443, [fd00::1]:443');
    expect(isAllowlisted(p, 'meet.internal', 80)).toBe(true);
    expect(isAllowlisted(p, 'MEET.internal.', 9999)).toBe(true);
    expect(isAllowlisted(p, 'other.meet.internal', 80)).toBe(false);
    expect(isAllowlisted(p, '10.0.0.7', 8443)).toBe(true);
    expect(isAllowlisted(p, '10.0.0.7', 443)).toBe(false);
    expect(isAllowlisted(p, '[fd00::1]', 443)).toBe(true);
    expect(isAllowlisted(p, 'fd00::1', 80)).toBe(false);
  });

  it('matches a wildcard on subdomains, not on the apex or look-alikes', () => {
    const p = policy('*.corp.example:8443');
    expect(isAllowlisted(p, 'meet.corp.example', 8443)).toBe(true);
    expect(isAllowlisted(p, 'a.b.corp.example', 8443)).toBe(true);
    expect(isAllowlisted(p, 'corp.example', 8443)).toBe(false);
    expect(isAllowlisted(p, 'evilcorp.example', 8443)).toBe(false);
    expect(isAllowlisted(p, 'meet.corp.example', 443)).toBe(false);
  });

  it('opens an allowlisted host whatever it resolves to, and only that host and port', async () => {
    const resolver = fakeResolver({ 'meet.internal': ['10.0.0.7'], 'other.internal': ['10.0.0.8'] });
    const p = policy('meet.internal:8443, 127.0.0.1');
    await expect(checkUrlAllowed('https://meet.internal:8443/room', p, resolver)).resolves.toBeUndefined();
    await expect(checkUrlAllowed('https://meet.internal/room', p, resolver)).rejects.toMatchObject({ code: 'url_not_allowed' });
    await expect(checkUrlAllowed('https://other.internal:8443/', p, resolver)).rejects.toMatchObject({ code: 'url_not_allowed' });
    await expect(checkUrlAllowed('http://127.0.0.1:3000/', p, resolver)).resolves.toBeUndefined();
    // The literal is opened, not every loopback address and not other spellings that resolve there.
    await expect(checkUrlAllowed('http://127.0.0.2:3000/', p, resolver)).rejects.toMatchObject({ code: 'url_not_allowed' });
    await expect(checkUrlAllowed('http://[::1]:3000/', p, resolver)).rejects.toMatchObject({ code: 'url_not_allowed' });
    // 2130706433 is 127.0.0.1: a URL parser normalizes it, so it is the same host.
    await expect(checkUrlAllowed('http://2130706433:3000/', p, resolver)).resolves.toBeUndefined();
  });

  it('is read from ALLOWED_HOSTS', () => {
    expect(ENV.allowedHosts).toBe('ALLOWED_HOSTS');
    expect(urlPolicyFromEnv({ ALLOWED_HOSTS: 'a.example,b.example:8080' }).allowedHosts).toHaveLength(2);
    expect(urlPolicyFromEnv({}).allowedHosts).toEqual([]);
    expect(() => urlPolicyFromEnv({ ALLOWED_HOSTS: 'http://x' })).toThrow(/Invalid allowed host/);
  });
});

describe('checkHost', () => {
  it('resolves once and returns the addresses it checked', async () => {
    const resolver = fakeResolver({ 'meet.example.com': ['93.184.216.34'] });
    expect(await checkHost('meet.example.com', 443, STRICT_URL_POLICY, resolver)).toEqual({
      allowed: true,
      host: 'meet.example.com',
      allowlisted: false,
      addresses: [{ address: '93.184.216.34', family: 4 }],
    });
    expect(resolver.asked).toEqual(['meet.example.com']);
  });
});

describe('the system resolver', () => {
  it('fails .invalid names at once, without a DNS query (RFC 6761)', async () => {
    const started = Date.now();
    await expect(systemResolver('meeting.example.invalid')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(systemResolver('INVALID.')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('answers localhost names with loopback, so they are refused', async () => {
    expect((await systemResolver('meet.localhost')).map((a) => a.address)).toEqual(['127.0.0.1', '::1']);
    await expect(checkUrlAllowed('http://meet.localhost:8080/', STRICT_URL_POLICY)).rejects.toThrow(/resolves to 127\.0\.0\.1, a loopback address/);
  });

  it('returns literals as they are', async () => {
    expect(await systemResolver('10.0.0.1')).toEqual([{ address: '10.0.0.1', family: 4 }]);
  });
});
