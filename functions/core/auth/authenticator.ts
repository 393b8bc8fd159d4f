/**
 * Turns the credentials on a request into a Caller, or throws a 401 AppError.
 *
 * Accepted: `Authorization: Bearer <API key or scoped token>`, or `x-api-key: <API key>`. A Bearer and an
 * x-api-key on one request are refused unless they carry the same key (an ambiguous request is never guessed
 * at); an Authorization header with another scheme (SigV4 for an IAM authorizer in front) is left to that
 * layer when x-api-key is present.
 *
 * Lookups are cached per container for `cacheSeconds` (positive results only: an unknown key always reads
 * the table). A revoked key or a rotated token secret therefore stops working within `cacheSeconds` on a
 * warm Lambda container, at once on a new one.
 */
import { ENV } from '../config.ts';
import { AppError } from '../errors.ts';
import { UnauthenticatedError, type Caller } from '../caller.ts';
import { apiKeyMatches, looksLikeApiKey, parseApiKey } from './api-keys.ts';
import type { ApiKeyRecord, Tenant } from './credential-store.ts';
import { JwtError, parseJwt } from './jwt.ts';
import { verifyScopedToken } from './scoped-tokens.ts';
import { isTenantId } from './tenants.ts';

export class TokenExpiredError extends AppError {
  constructor() {
    super(401, 'token_expired', 'The token has expired; mint a new one.');
  }
}

/** The reads authentication needs; CredentialStore provides them. */
export interface CredentialLookup {
  getApiKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  getTenant(tenantId: string): Promise<Tenant | undefined>;
}

export interface AuthenticatorOptions {
  /** Seconds a found key or tenant is remembered. 0 disables the cache. @default 60 */
  cacheSeconds?: number;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

export const DEFAULT_AUTH_CACHE_SECONDS = 60;

/** AUTH_CACHE_SECONDS (see ENV), or the default. */
export function cacheSecondsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[ENV.authCacheSeconds];
  if (raw === undefined || raw === '') return DEFAULT_AUTH_CACHE_SECONDS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${ENV.authCacheSeconds} must be a non-negative integer, got '${raw}'`);
  return value;
}

/** Upper bound on cached entries per container; past it the cache starts over. */
const MAX_CACHE_ENTRIES = 1000;

type Headers = Record<string, string | undefined>;

export class Authenticator {
  private readonly lookup: CredentialLookup;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { value: unknown; until: number }>();

  constructor(lookup: CredentialLookup, options: AuthenticatorOptions = {}) {
    const cacheSeconds = options.cacheSeconds ?? DEFAULT_AUTH_CACHE_SECONDS;
    if (!Number.isFinite(cacheSeconds) || cacheSeconds < 0) throw new Error(`cacheSeconds must be >= 0, got ${cacheSeconds}`);
    this.lookup = lookup;
    this.cacheMs = cacheSeconds * 1000;
    this.now = options.now ?? Date.now;
  }

  async authenticate(headers: Headers): Promise<Caller> {
    const credential = credentialFrom(headers);
    if (looksLikeApiKey(credential)) return this.apiKeyCaller(credential);
    if (credential.split('.').length === 3) return this.tokenCaller(credential);
    throw new UnauthenticatedError('The credentials are neither an API key nor a token.');
  }

  private async apiKeyCaller(apiKey: string): Promise<Caller> {
    const parsed = parseApiKey(apiKey);
    if (!parsed) throw new UnauthenticatedError('The API key is malformed.');
    const record = await this.cached(`key:${parsed.keyId}`, () => this.lookup.getApiKey(parsed.keyId));
    // One answer for unknown, revoked and wrong-secret keys: which of them it was is nobody's business.
    if (!record || record.revokedAt || !apiKeyMatches(apiKey, record.keyHash)) throw new UnauthenticatedError('The API key is not valid.');
    return { tenantId: record.tenantId, principal: `apiKey:${record.keyId}` };
  }

  private async tokenCaller(token: string): Promise<Caller> {
    try {
      const parsed = parseJwt(token);
      const tenantId = parsed.header.kid;
      if (!isTenantId(tenantId)) throw new JwtError('malformed', 'The token names no tenant.');
      const tenant = await this.cached(`tenant:${tenantId}`, () => this.lookup.getTenant(tenantId));
      if (!tenant) throw new JwtError('bad_signature', 'The token was not signed by a known tenant.');
      const grant = verifyScopedToken(parsed, tenant.tokenSigningSecret, Math.floor(this.now() / 1000));
      return { tenantId: grant.tenantId, principal: `token:${grant.jti}`, meetingId: grant.meetingId, actions: grant.actions };
    } catch (err) {
      if (!(err instanceof JwtError)) throw err;
      if (err.reason === 'expired') throw new TokenExpiredError();
      throw new UnauthenticatedError(`The token is not valid: ${err.message}`);
    }
  }

  private async cached<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value as T;
    const value = await load();
    if (value !== undefined && this.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
      this.cache.set(key, { value, until: now + this.cacheMs });
    }
    return value;
  }
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

function credentialFrom(headers: Headers): string {
  const authorization = headers.authorization ?? headers.Authorization;
  const apiKeyHeader = (headers['x-api-key'] ?? headers['X-Api-Key'])?.trim();
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const m = BEARER.exec(authorization);
    // Another scheme in Authorization belongs to a layer in front (e.g. SigV4 for an IAM authorizer); the
    // key then comes in x-api-key.
    if (m) bearer = m[1]!;
    else if (apiKeyHeader === undefined) throw new UnauthenticatedError("The Authorization header must be 'Bearer <API key or token>'.");
  }
  if (bearer !== undefined && apiKeyHeader !== undefined && bearer !== apiKeyHeader) {
    throw new UnauthenticatedError('Send credentials in one header: Authorization or x-api-key, not both.');
  }
  if (apiKeyHeader !== undefined && !looksLikeApiKey(apiKeyHeader)) throw new UnauthenticatedError('The x-api-key header takes an API key (mr_...).');
  const credential = bearer ?? apiKeyHeader;
  if (!credential) throw new UnauthenticatedError("This API needs credentials: 'Authorization: Bearer <API key or token>'.");
  return credential;
}
