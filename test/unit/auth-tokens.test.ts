/** The JWT (HS256) code, scoped-token claims and the API key format: pure functions, no emulator needed. */
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from '../../functions/core/auth/api-keys.ts';
import { JwtError, parseJwt, signJwt, verifyJwt, type JwtFailure } from '../../functions/core/auth/jwt.ts';
import { mintScopedToken, verifyScopedToken } from '../../functions/core/auth/scoped-tokens.ts';

const secret = randomBytes(32);
const NOW = 1_750_000_000;
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hmac = (input: string, key: Buffer = secret) => createHmac('sha256', key).update(input).digest('base64url');
/** A token built by hand, so the tests can produce what signJwt never would. */
const forge = (header: unknown, payload: unknown, sign: (input: string) => string = hmac) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
};
const claims = (over: Record<string, unknown> = {}) => ({ iat: NOW, nbf: NOW, exp: NOW + 600, sub: 'x', ...over });

function failure(fn: () => unknown): JwtFailure | 'none' {
  try {
    fn();
    return 'none';
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
}
const verify = (token: string, options = {}) => verifyJwt(parseJwt(token), secret, { now: NOW, ...options });

describe('JWT HS256', () => {
  it('verifies what it signs and returns the payload', () => {
    // Prepare
    const token = signJwt(claims(), secret, { kid: 'acme' });
    // Act
    const parsed = parseJwt(token);
    // Assess
    expect(parsed.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'acme' });
    expect(verifyJwt(parsed, secret, { now: NOW })).toMatchObject({ sub: 'x', exp: NOW + 600 });
  });

  it('interoperates with a hand-built RFC 7519 token', () => {
    expect(verify(forge({ alg: 'HS256', typ: 'JWT' }, claims())).sub).toBe('x');
  });

  it.each([
    ['alg none, no signature', forge({ alg: 'none', typ: 'JWT' }, claims(), () => '')],
    ['alg none, with a signature', forge({ alg: 'none' }, claims())],
    ['alg None', forge({ alg: 'None' }, claims())],
    ['alg hs256 (wrong case)', forge({ alg: 'hs256' }, claims())],
    ['alg HS512', forge({ alg: 'HS512' }, claims())],
    ['alg RS256', forge({ alg: 'RS256' }, claims())],
    ['no alg', forge({ typ: 'JWT' }, claims())],
  ])('rejects %s before using any key', (_label, token) => {
    expect(failure(() => parseJwt(token))).toBe('unsupported_algorithm');
  });

  it('rejects an HS256 header with an empty signature', () => {
    expect(failure(() => verify(forge({ alg: 'HS256' }, claims(), () => '')))).toBe('bad_signature');
  });

  it('rejects a tampered payload, a flipped signature bit, a truncated signature and another secret', () => {
    const token = signJwt(claims(), secret);
    const [h, p, s] = token.split('.') as [string, string, string];
    const otherPayload = b64(claims({ sub: 'admin' }));
    const sig = Buffer.from(s, 'base64url');
    sig[0]! ^= 1;
    expect(failure(() => verify(`${h}.${otherPayload}.${s}`))).toBe('bad_signature');
    expect(failure(() => verify(`${h}.${p}.${sig.toString('base64url')}`))).toBe('bad_signature');
    expect(failure(() => verify(`${h}.${p}.${s.slice(0, 20)}`))).toBe('bad_signature');
    expect(failure(() => verifyJwt(parseJwt(token), randomBytes(32), { now: NOW }))).toBe('bad_signature');
  });

  it.each([
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['non-base64url characters', `${b64({ alg: 'HS256' })}.${b64(claims())}.abc+/`],
    ['base64 padding', `${b64({ alg: 'HS256' })}=.${b64(claims())}.${hmac('x')}`],
    ['a header that is not JSON', `${b64('not json')}.${b64(claims())}.${hmac('x')}`],
    ['a header that is a JSON array', forge(['HS256'], claims())],
    ['a payload that is a JSON string', forge({ alg: 'HS256' }, JSON.stringify('x'))],
    ['typ other than JWT', forge({ alg: 'HS256', typ: 'JOSE+JSON' }, claims())],
    ['a crit header', forge({ alg: 'HS256', crit: ['exp'] }, claims())],
    ['a numeric kid', forge({ alg: 'HS256', kid: 7 }, claims())],
    ['an oversized token', forge({ alg: 'HS256' }, claims({ pad: 'x'.repeat(5000) }))],
  ])('rejects %s as malformed', (_label, token) => {
    expect(failure(() => parseJwt(token))).toBe('malformed');
  });

  it('rejects a non-canonical base64url part (the same bytes, another string)', () => {
    const token = signJwt(claims(), secret);
    const [h, p, s] = token.split('.') as [string, string, string];
    // The last character of a 43-character HS256 signature carries 2 unused bits; setting one changes the
    // string but not the decoded bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const variant = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(variant, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect(failure(() => parseJwt(`${h}.${p}.${variant}`))).toBe('malformed');
  });

  it('checks exp, nbf and iat with a 30 s leeway', () => {
    expect(failure(() => verify(signJwt(claims({ iat: NOW - 700, nbf: NOW - 700, exp: NOW - 31 }), secret)))).toBe('expired');
    expect(failure(() => verify(signJwt(claims({ iat: NOW - 700, nbf: NOW - 700, exp: NOW - 29 }), secret)))).toBe('none');
    expect(failure(() => verify(signJwt(claims({ nbf: NOW + 31 }), secret)))).toBe('not_yet_valid');
    expect(failure(() => verify(signJwt(claims({ nbf: NOW + 29 }), secret)))).toBe('none');
    expect(failure(() => verify(signJwt(claims({ iat: NOW + 31, nbf: NOW }), secret)))).toBe('invalid_claims');
  });

  it.each(['exp', 'nbf', 'iat'])('requires a numeric %s', (name) => {
    expect(failure(() => verify(signJwt(claims({ [name]: undefined }), secret)))).toBe('invalid_claims');
    expect(failure(() => verify(signJwt(claims({ [name]: String(NOW) }), secret)))).toBe('invalid_claims');
  });

  it('rejects an inconsistent or too long lifetime', () => {
    expect(failure(() => verify(signJwt(claims({ exp: NOW }), secret), { leewaySeconds: 0 }))).toBe('expired');
    expect(failure(() => verify(signJwt(claims({ iat: NOW - 100, nbf: NOW + 20, exp: NOW + 10 }), secret)))).toBe('invalid_claims');
    expect(failure(() => verify(signJwt(claims({ exp: NOW + 100_000 }), secret), { maxLifetimeSeconds: 86_400 }))).toBe('invalid_claims');
  });

  it('refuses to sign with a short secret', () => {
    expect(() => signJwt(claims(), randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('scoped tokens', () => {
  const tenant = { tenantId: 'acme', tokenSigningSecret: randomBytes(32).toString('base64url') };
  const key = Buffer.from(tenant.tokenSigningSecret, 'base64url');
  const now = new Date(NOW * 1000);
  const scoped = (over: Record<string, unknown> = {}, header: Record<string, unknown> = { alg: 'HS256', kid: 'acme' }) =>
    forge(header, { iss: 'meeting-recorder', ten: 'acme', mid: 'room-1', act: ['read'], jti: 'j1', ...claims(), ...over }, (input) => hmac(input, key));
  const scopedFailure = (token: string) => failure(() => verifyScopedToken(parseJwt(token), tenant.tokenSigningSecret, NOW));

  it('grant one meeting and the listed actions, for the requested lifetime', () => {
    // Act
    const { token, grant } = mintScopedToken(tenant, { meetingId: 'room-1', actions: ['stop', 'read', 'stop'], ttlSeconds: 120 }, now);
    const verified = verifyScopedToken(parseJwt(token), tenant.tokenSigningSecret, NOW + 60);
    // Assess
    expect(parseJwt(token).header.kid).toBe('acme');
    expect(grant).toMatchObject({ tenantId: 'acme', meetingId: 'room-1', actions: ['stop', 'read'] });
    expect(verified).toEqual(grant);
    expect(verified.expiresAt.getTime()).toBe((NOW + 120) * 1000);
    expect(failure(() => verifyScopedToken(parseJwt(token), tenant.tokenSigningSecret, NOW + 120 + 31))).toBe('expired');
  });

  it('default to one hour and refuse more than 24 h', () => {
    expect(mintScopedToken(tenant, { meetingId: 'm', actions: ['read'] }, now).grant.expiresAt.getTime()).toBe((NOW + 3600) * 1000);
    expect(() => mintScopedToken(tenant, { meetingId: 'm', actions: ['read'], ttlSeconds: 86_401 }, now)).toThrow(RangeError);
  });

  it('accept a well-formed hand-built token', () => {
    expect(scopedFailure(scoped())).toBe('none');
  });

  it.each([
    ['another issuer', { iss: 'someone-else' }],
    ['no issuer', { iss: undefined }],
    ['a tenant that differs from kid', { ten: 'other' }],
    ['no meeting', { mid: undefined }],
    ['a meeting id with a slash', { mid: 'a/b' }],
    ['no actions', { act: [] }],
    ['an unknown action', { act: ['read', 'delete'] }],
    ['actions that are not an array', { act: 'read' }],
    ['no token id', { jti: undefined }],
    ['a lifetime over 24 h', { exp: NOW + 86_401 }],
  ])('reject %s', (_label, over) => {
    expect(scopedFailure(scoped(over))).toBe('invalid_claims');
  });

  it('reject a token whose kid names no valid tenant id', () => {
    expect(scopedFailure(scoped({ ten: 'ACME' }, { alg: 'HS256', kid: 'ACME' }))).toBe('invalid_claims');
  });
});

describe('API keys', () => {
  it('are mr_{16 hex key id}_{43 base64url characters}, with 256 random bits, and differ every time', () => {
    const keys = Array.from({ length: 50 }, generateApiKey);
    for (const k of keys) {
      expect(k.apiKey).toMatch(/^mr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(parseApiKey(k.apiKey)).toEqual({ keyId: k.keyId });
      expect(k.keyHash).toBe(hashApiKey(k.apiKey));
      expect(k.keyHash).not.toContain(k.apiKey.slice(20));
    }
    expect(new Set(keys.map((k) => k.apiKey.slice(20))).size).toBe(50);
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(50);
  });

  it('match only their own hash', () => {
    const [a, b] = [generateApiKey(), generateApiKey()];
    expect(apiKeyMatches(a.apiKey, a.keyHash)).toBe(true);
    expect(apiKeyMatches(b.apiKey, a.keyHash)).toBe(false);
    expect(apiKeyMatches(`${a.apiKey.slice(0, -1)}${a.apiKey.endsWith('A') ? 'B' : 'A'}`, a.keyHash)).toBe(false);
    expect(apiKeyMatches(a.apiKey, 'not-hex')).toBe(false);
  });

  it.each(['', 'mr_', 'mr_0123456789abcdef', 'mr_0123456789ABCDEF_' + 'a'.repeat(43), 'mr_0123456789abcdef_' + 'a'.repeat(42), ' mr_0123456789abcdef_' + 'a'.repeat(43), 'sk_0123456789abcdef_' + 'a'.repeat(43)])(
    'reject the malformed key %j',
    (key) => {
      expect(parseApiKey(key)).toBeUndefined();
    },
  );
});
