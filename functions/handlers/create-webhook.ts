/** POST /v1/webhooks: subscribes a URL to status events; the answer holds the signing secret, once. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseJsonBody } from '#core/http.ts';
import { urlPolicy, webhookStore } from '#core/runtime.ts';
import { checkUrlAllowed } from '#core/url-policy.ts';
import { createWebhook, toPublicWebhook } from '#core/webhooks/webhook-service.ts';
import { CreateWebhookBody } from '#core/webhooks/webhook-schemas.ts';

export const handler = httpHandler(async (event) => {
  const body = parseJsonBody(event, CreateWebhookBody);
  const subscription = await createWebhook(
    { store: webhookStore(), checkUrl: (url) => checkUrlAllowed(url, urlPolicy(), undefined, 'url') },
    callerFrom(event),
    body,
  );
  // no-store: the secret is shown once and never kept by the idempotency layer.
  return json(201, { ...toPublicWebhook(subscription), secret: subscription.secret }, {
    location: `/v1/webhooks/${subscription.id}`,
    'cache-control': 'no-store',
  });
});
