/** DELETE /v1/webhooks/{webhookId}: removes a subscription; its pending deliveries are cancelled. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, parseQuery, pathParam } from '#core/http.ts';
import { webhookStore } from '#core/runtime.ts';
import { NoQuery } from '#core/schemas.ts';
import { deleteWebhook } from '#core/webhooks/webhook-service.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  await deleteWebhook(webhookStore(), callerFrom(event), pathParam(event, 'webhookId'));
  return { statusCode: 204, headers: {}, body: '' };
});
