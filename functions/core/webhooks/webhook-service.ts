/**
 * The webhook use cases behind the API routes. Subscriptions belong to a tenant and are managed with API
 * keys only (a scoped token is for one meeting's moderator, not for the tenant's integrations).
 */
import { randomBytes } from 'node:crypto';
import type { Caller } from '../caller.ts';
import { AppError } from '../errors.ts';
import { newWebhookSecret } from './signature.ts';
import type { WebhookDeliverer } from './webhook-deliverer.ts';
import { MAX_WEBHOOKS_PER_TENANT, WEBHOOK_ID_PATTERN, type CreateWebhookBody } from './webhook-schemas.ts';
import type { WebhookDelivery, WebhookStore, WebhookSubscription } from './webhook-store.ts';

export class WebhookNotFoundError extends AppError {
  constructor(id: string) {
    super(404, 'webhook_not_found', `No webhook subscription with id '${id}'.`);
  }
}

export class WebhookLimitReachedError extends AppError {
  constructor() {
    super(409, 'webhook_limit_reached', `A tenant can have at most ${MAX_WEBHOOKS_PER_TENANT} webhook subscriptions; delete one first.`);
  }
}

export class WebhookDisabledError extends AppError {
  constructor(id: string) {
    super(409, 'webhook_disabled', `Webhook subscription '${id}' is disabled (its deliveries failed for 3 days); create a new one.`);
  }
}

class ApiKeyRequiredError extends AppError {
  constructor() {
    super(403, 'insufficient_permissions', 'Only an API key can manage webhooks; a scoped token cannot.');
  }
}

function requireApiKey(caller: Caller): void {
  if (!caller.principal.startsWith('apiKey:') || caller.actions !== undefined) throw new ApiKeyRequiredError();
}

export function newWebhookId(): string {
  const n = BigInt(`0x${randomBytes(15).toString('hex')}`);
  return `wh_${n.toString(36).padStart(24, '0').slice(-24)}`;
}

export interface WebhookServiceDeps {
  store: WebhookStore;
  /** The SSRF policy check for `url` (throws 422 url_not_allowed). */
  checkUrl: (url: string) => Promise<void>;
  now?: () => string;
}

export async function createWebhook(deps: WebhookServiceDeps, caller: Caller, body: CreateWebhookBody): Promise<WebhookSubscription> {
  requireApiKey(caller);
  await deps.checkUrl(body.url);
  if ((await deps.store.listSubscriptions(caller.tenantId)).length >= MAX_WEBHOOKS_PER_TENANT) throw new WebhookLimitReachedError();
  const now = deps.now?.() ?? new Date().toISOString();
  const subscription: WebhookSubscription = {
    id: newWebhookId(),
    tenantId: caller.tenantId,
    url: body.url,
    events: body.events,
    ...(body.description !== undefined && { description: body.description }),
    secret: newWebhookSecret(),
    status: 'enabled',
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.createSubscription(subscription);
  return subscription;
}

/** A subscription of the caller's tenant; another tenant's is "not found". */
export async function getWebhook(store: WebhookStore, caller: Caller, id: string): Promise<WebhookSubscription> {
  requireApiKey(caller);
  const subscription = WEBHOOK_ID_PATTERN.test(id) ? await store.getSubscription(id) : undefined;
  if (!subscription || subscription.tenantId !== caller.tenantId) throw new WebhookNotFoundError(id);
  return subscription;
}

export async function listWebhooks(store: WebhookStore, caller: Caller): Promise<WebhookSubscription[]> {
  requireApiKey(caller);
  return store.listSubscriptions(caller.tenantId);
}

/** Deletes a subscription; its pending deliveries are cancelled at their next attempt. */
export async function deleteWebhook(store: WebhookStore, caller: Caller, id: string): Promise<void> {
  await getWebhook(store, caller, id);
  await store.deleteSubscription(id);
}

export async function listWebhookDeliveries(store: WebhookStore, caller: Caller, id: string, limit: number): Promise<WebhookDelivery[]> {
  await getWebhook(store, caller, id);
  return store.listDeliveries(id, limit);
}

export async function sendTestWebhook(deps: { store: WebhookStore; deliverer: WebhookDeliverer }, caller: Caller, id: string): Promise<WebhookDelivery> {
  const subscription = await getWebhook(deps.store, caller, id);
  if (subscription.status !== 'enabled') throw new WebhookDisabledError(id);
  return deps.deliverer.sendTest(subscription);
}

/** The shape clients see: never the secret. */
export function toPublicWebhook(s: WebhookSubscription) {
  return {
    id: s.id,
    url: s.url,
    events: s.events,
    ...(s.description !== undefined && { description: s.description }),
    status: s.status,
    ...(s.disabledAt && { disabledAt: s.disabledAt }),
    ...(s.disabledReason && { disabledReason: s.disabledReason }),
    ...(s.failingSince && { failingSince: s.failingSince }),
    ...(s.lastSuccessAt && { lastSuccessAt: s.lastSuccessAt }),
    ...(s.lastFailureAt && { lastFailureAt: s.lastFailureAt }),
    createdAt: s.createdAt,
  };
}

export function toPublicDelivery(d: WebhookDelivery) {
  return {
    messageId: d.messageId,
    eventType: d.eventType,
    ...(d.eventId && { eventId: d.eventId }),
    ...(d.recordingId && { recordingId: d.recordingId }),
    ...(d.status && { status: d.status }),
    ...(d.sequence !== undefined && { sequence: d.sequence }),
    state: d.state,
    createdAt: d.createdAt,
    attemptCount: d.attemptCount,
    attempts: d.attempts,
    ...(d.nextAttemptAt && { nextAttemptAt: d.nextAttemptAt }),
    ...(d.finishedAt && { finishedAt: d.finishedAt }),
    ...(d.reason && { reason: d.reason }),
  };
}
