/**
 * POST /v1/tokens: mints a scoped token (one meeting, some actions, at most 24 h) for a browser. Only an API
 * key may mint; a token cannot mint another (it could otherwise extend its own lifetime or scope).
 */
import { AppError } from '#core/errors.ts';
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseJsonBody } from '#core/http.ts';
import { credentialStore } from '#core/runtime.ts';
import { mintScopedToken } from '#core/auth/scoped-tokens.ts';
import { CreateTokenBody } from '#core/auth/token-schemas.ts';

class TokenCannotMintError extends AppError {
  constructor() {
    super(403, 'insufficient_permissions', 'Only an API key can mint tokens; a scoped token cannot.');
  }
}

export const handler = httpHandler(async (event) => {
  const caller = callerFrom(event);
  if (!caller.principal.startsWith('apiKey:') || caller.actions !== undefined) throw new TokenCannotMintError();
  const body = parseJsonBody(event, CreateTokenBody);
  const tenant = await credentialStore().getTenant(caller.tenantId);
  if (!tenant) throw new Error(`Tenant '${caller.tenantId}' of ${caller.principal} has no tenant item.`);
  const { token, grant } = mintScopedToken(tenant, body);
  return json(
    201,
    { token, tokenType: 'Bearer', expiresAt: grant.expiresAt.toISOString(), meetingId: grant.meetingId, actions: grant.actions },
    { 'cache-control': 'no-store' },
  );
});
