/**
 * The authentication middleware every API handler runs (httpHandler in http.ts). It authenticates the
 * request and attaches the Caller where an API Gateway Lambda authorizer would put its context, before the
 * handler runs; a failure is an AppError that problemJson (outermost) answers as 401 problem+json.
 *
 * Why a middleware inside each function, not an HTTP API Lambda authorizer:
 * - an HTTP API authorizer can only allow or deny; a deny is API Gateway's own `{"message":"Unauthorized"}`
 *   (or 403 Forbidden), never our RFC 9457 problem+json with a stable code such as `token_expired`;
 * - the same code runs on AWS and in local mode, with no stand-in for the authorizer to drift from it;
 * - one cold start and one invocation per request instead of two, and the authorizer cache (keyed by the
 *   header) would be a second, less visible revocation delay.
 * The price is that an unauthenticated request still invokes a function; stage throttling bounds that.
 */
import type { MiddlewareObj } from '@middy/core';
import { attachCaller } from '../caller.ts';
import type { HttpEvent, HttpResult } from '../http.ts';
import { authenticator as runtimeAuthenticator } from '../runtime.ts';
import type { Authenticator } from './authenticator.ts';

export interface AuthenticateOptions {
  /** @default the container's Authenticator (runtime.ts) */
  authenticator?: () => Authenticator;
}

export function authenticate(options: AuthenticateOptions = {}): MiddlewareObj<HttpEvent, HttpResult> {
  const authenticator = options.authenticator ?? runtimeAuthenticator;
  return {
    name: 'authenticate',
    before: async (request) => {
      const caller = await authenticator().authenticate(request.event.headers ?? {});
      attachCaller(request.event, caller);
    },
  };
}
