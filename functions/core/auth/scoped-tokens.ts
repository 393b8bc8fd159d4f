/**
 * Scoped tokens: short-lived JWTs (HS256) a tenant's backend mints with its API key (POST /v1/tokens) and
 * hands to a browser. Each is limited to one meeting and a set of actions; `authorize()` (caller.ts)
 * enforces both. The signing secret is the tenant's own (tenant item), and the header's `kid` names the
 * tenant, so verification needs one GetItem. Rotating a tenant's secret invalidates all its tokens.
 *
 * Claims (all required): iss "meeting-recorder", ten (tenant id, equal to kid), mid (meeting id),
 * act (actions), jti (token id, for logs), iat, nbf, exp (lifetime at most MAX_TOKEN_TTL_SECONDS).
 */
import { randomBytes } from 'node:crypto';
import { ACTIONS, type Action } from '../caller.ts';
import { JwtError, signJwt, verifyJwt, type ParsedJwt } from './jwt.ts';
import { isTenantId } from './tenants.ts';

export const TOKEN_ISSUER = 'meeting-recorder';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** The meeting id rule of the recordings API (schemas.ts), repeated for tokens verified without it. */
const MEETING_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ScopedTokenGrant {
  tenantId: string;
  meetingId: string;
  actions: Action[];
  jti: string;
  expiresAt: Date;
}

export function mintScopedToken(
  tenant: { tenantId: string; tokenSigningSecret: string },
  request: { meetingId: string; actions: Action[]; ttlSeconds?: number },
  now = new Date(),
): { token: string; grant: ScopedTokenGrant } {
  const ttl = request.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) throw new RangeError(`ttlSeconds must be 1..${MAX_TOKEN_TTL_SECONDS}`);
  const iat = Math.floor(now.getTime() / 1000);
  const jti = randomBytes(12).toString('base64url');
  const actions = [...new Set(request.actions)];
  const payload = { iss: TOKEN_ISSUER, ten: tenant.tenantId, mid: request.meetingId, act: actions, jti, iat, nbf: iat, exp: iat + ttl };
  const token = signJwt(payload, Buffer.from(tenant.tokenSigningSecret, 'base64url'), { kid: tenant.tenantId });
  return { token, grant: { tenantId: tenant.tenantId, meetingId: request.meetingId, actions, jti, expiresAt: new Date((iat + ttl) * 1000) } };
}

/** Verifies a parsed token with its tenant's secret and returns what it grants. Throws JwtError. */
export function verifyScopedToken(parsed: ParsedJwt, tokenSigningSecret: string, nowSeconds?: number): ScopedTokenGrant {
  const claims = verifyJwt(parsed, Buffer.from(tokenSigningSecret, 'base64url'), {
    now: nowSeconds,
    maxLifetimeSeconds: MAX_TOKEN_TTL_SECONDS,
  });
  const { iss, ten, mid, act, jti } = claims;
  if (iss !== TOKEN_ISSUER) throw new JwtError('invalid_claims', 'The token was not issued by this service.');
  if (!isTenantId(ten) || ten !== parsed.header.kid) throw new JwtError('invalid_claims', "The token's tenant does not match its key id.");
  if (typeof mid !== 'string' || !MEETING_ID_PATTERN.test(mid)) throw new JwtError('invalid_claims', 'The token names no valid meeting.');
  if (!Array.isArray(act) || act.length === 0 || !act.every((a) => (ACTIONS as readonly unknown[]).includes(a))) {
    throw new JwtError('invalid_claims', 'The token grants no valid actions.');
  }
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 64) throw new JwtError('invalid_claims', 'The token has no valid id.');
  return { tenantId: ten, meetingId: mid, actions: act as Action[], jti, expiresAt: new Date(claims.exp * 1000) };
}
