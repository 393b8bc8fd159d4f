/** GET /v1/webhooks: the tenant's webhook subscriptions (never their secrets). */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery } from '#core/http.ts';
import { webhookStore } from '#core/runtime.ts';
import { NoQuery } from '#core/schemas.ts';
import { listWebhooks, toPublicWebhook } from '#core/webhooks/webhook-service.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  const items = await listWebhooks(webhookStore(), callerFrom(event));
  return json(200, { items: items.map(toPublicWebhook) });
});
