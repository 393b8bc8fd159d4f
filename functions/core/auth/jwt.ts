/**
 * Compact JWS with HS256 only (RFC 7515/7519), on node:crypto. Deliberately strict:
 * - the header's `alg` must be exactly `HS256` (`none`, RS256, HS512... are rejected before any key is used);
 * - `typ`, when present, must be `JWT`; a `crit` header is rejected (we understand no extensions);
 * - each part must be canonical base64url (no padding, no stray characters), header and payload JSON objects;
 * - the signature is compared with timingSafeEqual;
 * - `exp`, `iat` and `nbf` are required numeric dates, checked with a small leeway.
 * Anything else a caller needs (issuer, custom claims) it checks on the verified payload.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwtFailure = 'malformed' | 'unsupported_algorithm' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'invalid_claims';

export class JwtError extends Error {
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure, message: string) {
    super(message);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

export interface JwtHeader {
  alg: 'HS256';
  typ?: 'JWT';
  kid?: string;
}

export interface JwtTimeClaims {
  iat: number;
  nbf: number;
  exp: number;
}

/** A token split and decoded, not yet verified. */
export interface ParsedJwt {
  header: JwtHeader;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Longer tokens are refused unread; ours are a few hundred bytes. */
export const MAX_TOKEN_LENGTH = 4096;
const HS256_BYTES = 32;

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function decodePart(part: string, what: string): Buffer {
  if (!BASE64URL.test(part)) throw new JwtError('malformed', `The token's ${what} is not base64url.`);
  const bytes = Buffer.from(part, 'base64url');
  // Canonical encoding only: a part that does not round-trip (e.g. odd trailing bits) is a different token.
  if (bytes.toString('base64url') !== part) throw new JwtError('malformed', `The token's ${what} is not canonical base64url.`);
  return bytes;
}

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodePart(part, what).toString('utf8'));
  } catch (err) {
    if (err instanceof JwtError) throw err;
    throw new JwtError('malformed', `The token's ${what} is not JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtError('malformed', `The token's ${what} is not a JSON object.`);
  return value as Record<string, unknown>;
}

function hs256(signingInput: string, secret: Buffer): Buffer {
  return createHmac('sha256', secret).update(signingInput, 'utf8').digest();
}

export function signJwt(payload: Record<string, unknown>, secret: Buffer, header: { kid?: string } = {}): string {
  if (secret.length < HS256_BYTES) throw new Error('An HS256 secret must have at least 32 bytes.');
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${b64url(hs256(signingInput, secret))}`;
}

/** Splits and decodes a token, and rejects every algorithm but HS256. Does not verify the signature. */
export function parseJwt(token: string): ParsedJwt {
  if (token.length > MAX_TOKEN_LENGTH) throw new JwtError('malformed', 'The token is too long.');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', 'A token has three dot-separated parts.');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonObject(h, 'header');
  if (header.alg !== 'HS256') throw new JwtError('unsupported_algorithm', `Token algorithm '${String(header.alg)}' is not accepted; only HS256 is.`);
  if (header.typ !== undefined && header.typ !== 'JWT') throw new JwtError('malformed', "The token's typ must be JWT.");
  if (header.crit !== undefined) throw new JwtError('malformed', 'Tokens with critical header extensions are not accepted.');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new JwtError('malformed', "The token's kid must be a string.");
  const payload = decodeJsonObject(p, 'payload');
  if (s === '') throw new JwtError('bad_signature', 'The token is not signed.');
  const signature = decodePart(s, 'signature');
  return { header: header as unknown as JwtHeader, payload, signingInput: `${h}.${p}`, signature };
}

export interface VerifyOptions {
  /** Seconds since the epoch. @default now */
  now?: number;
  /** Clock skew tolerated on exp, nbf and iat (seconds). @default 30 */
  leewaySeconds?: number;
  /** Longest lifetime (exp - iat) accepted, in seconds. */
  maxLifetimeSeconds?: number;
}

/** Verifies the signature with `secret`, then the time claims. Returns the payload. */
export function verifyJwt(parsed: ParsedJwt, secret: Buffer, options: VerifyOptions = {}): Record<string, unknown> & JwtTimeClaims {
  const expected = hs256(parsed.signingInput, secret);
  if (parsed.signature.length !== expected.length || !timingSafeEqual(parsed.signature, expected)) {
    throw new JwtError('bad_signature', 'The token signature does not match.');
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const leeway = options.leewaySeconds ?? 30;
  const iat = numericDate(parsed.payload, 'iat');
  const nbf = numericDate(parsed.payload, 'nbf');
  const exp = numericDate(parsed.payload, 'exp');
  if (exp <= now - leeway) throw new JwtError('expired', 'The token has expired.');
  if (nbf > now + leeway) throw new JwtError('not_yet_valid', 'The token is not valid yet.');
  if (iat > now + leeway) throw new JwtError('invalid_claims', 'The token was issued in the future.');
  if (exp <= iat || nbf > exp) throw new JwtError('invalid_claims', 'The token has an inconsistent lifetime.');
  if (options.maxLifetimeSeconds !== undefined && exp - iat > options.maxLifetimeSeconds) {
    throw new JwtError('invalid_claims', 'The token lives longer than allowed.');
  }
  return parsed.payload as Record<string, unknown> & JwtTimeClaims;
}

function numericDate(payload: Record<string, unknown>, name: string): number {
  const value = payload[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new JwtError('invalid_claims', `The token lacks a numeric '${name}' claim.`);
  return value;
}
