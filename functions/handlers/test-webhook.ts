/** POST /v1/webhooks/{webhookId}/test: sends a signed `webhook.test` event (delivered and retried like any other). */
import { callerFrom } from '#core/caller.ts';
import { expectNoBody, httpHandler, json, pathParam } from '#core/http.ts';
import { webhookStore } from '#core/runtime.ts';
import { webhookDeliverer } from '#core/runtime-webhooks.ts';
import { sendTestWebhook, toPublicDelivery } from '#core/webhooks/webhook-service.ts';

export const handler = httpHandler(async (event) => {
  expectNoBody(event);
  const delivery = await sendTestWebhook({ store: webhookStore(), deliverer: webhookDeliverer() }, callerFrom(event), pathParam(event, 'webhookId'));
  return json(202, toPublicDelivery(delivery));
});
