/**
 * Who is calling the API, as the authentication middleware established it. The middleware stores the
 * caller where an API Gateway Lambda authorizer would put its context (`requestContext.authorizer.lambda`),
 * so handlers read it the same way whichever component authenticated the request.
 */
import type { HttpEvent } from './http.ts';
import { AppError } from './errors.ts';

/** What a scoped token may do. An API key may do everything within its tenant. */
export const ACTIONS = ['start', 'stop', 'pause', 'resume', 'read'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Caller {
  tenantId: string;
  /** `apiKey:{keyId}` or `token:{jti}`: for logs, never a secret. */
  principal: string;
  /** Unset for API keys (every action); a scoped token's actions otherwise. */
  actions?: Action[];
  /** A scoped token's meeting; unset for API keys. */
  meetingId?: string;
}

export class InsufficientPermissionsError extends AppError {
  constructor(action: Action) {
    super(403, 'insufficient_permissions', `These credentials do not allow '${action}'.`, { requiredAction: action });
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

export function callerFrom(event: HttpEvent): Caller {
  const caller = (event.requestContext as { authorizer?: { lambda?: Caller } } | undefined)?.authorizer?.lambda;
  if (!caller?.tenantId) throw new UnauthenticatedError('The request carries no credentials.');
  return caller;
}

/** Attaches an authenticated caller to the event (the authentication middleware's job). */
export function attachCaller(event: HttpEvent, caller: Caller): void {
  (event.requestContext as unknown as { authorizer: { lambda: Caller } }).authorizer = { lambda: caller };
}

/**
 * Throws unless the caller may do `action` on a recording of `meetingId`. A token for another meeting gets
 * the answer a stranger gets (not found) when it names an existing recording (`hideAs`), and 403 when it
 * names the meeting itself (a start).
 */
export function authorize(caller: Caller, action: Action, meetingId: string, hideAs?: () => Error): void {
  if (caller.meetingId !== undefined && caller.meetingId !== meetingId) {
    if (hideAs) throw hideAs();
    throw new InsufficientPermissionsError(action);
  }
  if (caller.actions && !caller.actions.includes(action)) throw new InsufficientPermissionsError(action);
}
