/** GET /v1/webhooks/{webhookId}/deliveries: each delivery, newest first, with its attempts and next retry. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery, pathParam } from '#core/http.ts';
import { webhookStore } from '#core/runtime.ts';
import { listWebhookDeliveries, toPublicDelivery } from '#core/webhooks/webhook-service.ts';
import { ListDeliveriesQuery } from '#core/webhooks/webhook-schemas.ts';

export const handler = httpHandler(async (event) => {
  const query = parseQuery(event, ListDeliveriesQuery);
  const items = await listWebhookDeliveries(webhookStore(), callerFrom(event), pathParam(event, 'webhookId'), query.limit ?? 20);
  return json(200, { items: items.map(toPublicDelivery) });
});
