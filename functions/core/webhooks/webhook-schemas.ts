/** Webhook request and response schemas: the handlers validate with them and the OpenAPI document shows them. */
import * as z from 'zod';
import { RECORDING_STATUSES } from '../recording.ts';

export const WEBHOOK_ID_PATTERN = /^wh_[a-z0-9]{24}$/;
/** Subscriptions per tenant. */
export const MAX_WEBHOOKS_PER_TENANT = 25;

export const CreateWebhookBody = z.strictObject({
  url: z
    .string({ error: 'url is required and must be a string' })
    .max(2048, 'url must be at most 2048 characters')
    .refine((value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0 && !url.username && !url.password;
      } catch {
        return false;
      }
    }, 'url must be an absolute http(s) URL without credentials'),
  events: z
    .array(z.enum(RECORDING_STATUSES, { error: `events must hold statuses: ${RECORDING_STATUSES.join(', ')}` }), {
      error: 'events is required and must be an array of statuses',
    })
    .min(1, 'events must name at least one status')
    .max(RECORDING_STATUSES.length, `events has at most ${RECORDING_STATUSES.length} entries`)
    .refine((events) => new Set(events).size === events.length, 'events must not repeat a status'),
  description: z.string({ error: 'description must be a string' }).max(256, 'description must be at most 256 characters').optional(),
});
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const ListDeliveriesQuery = z.strictObject({
  limit: z
    .string({ error: 'limit must be a string' })
    .regex(/^\d{1,3}$/, 'limit must be a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'limit must be between 1 and 100')
    .optional(),
});

// --- responses ---

export const WebhookSchema = z
  .object({
    id: z.string().regex(WEBHOOK_ID_PATTERN),
    url: z.string(),
    events: z.array(z.enum(RECORDING_STATUSES)),
    description: z.string().optional(),
    status: z.enum(['enabled', 'disabled']),
    disabledAt: z.string().optional(),
    disabledReason: z.string().optional(),
    failingSince: z.string().optional(),
    lastSuccessAt: z.string().optional(),
    lastFailureAt: z.string().optional(),
    createdAt: z.string(),
  })
  .meta({ id: 'Webhook' });

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().describe('The signing secret (`whsec_...`), shown only in this answer.'),
}).meta({ id: 'CreatedWebhook' });

export const WebhookListSchema = z.object({ items: z.array(WebhookSchema) }).meta({ id: 'WebhookList' });

export const DeliverySchema = z
  .object({
    messageId: z.string().describe('The `webhook-id` header, the same on every attempt.'),
    eventType: z.string(),
    eventId: z.string().optional(),
    recordingId: z.string().optional(),
    status: z.enum(RECORDING_STATUSES).optional(),
    sequence: z.number().int().optional(),
    state: z.enum(['pending', 'succeeded', 'dead_lettered', 'cancelled']),
    createdAt: z.string(),
    attemptCount: z.number().int(),
    attempts: z.array(
      z.object({
        attemptedAt: z.string(),
        ok: z.boolean(),
        httpStatus: z.number().int().optional(),
        latencyMs: z.number(),
        error: z.string().optional(),
      }),
    ),
    nextAttemptAt: z.string().optional(),
    finishedAt: z.string().optional(),
    reason: z.string().optional(),
  })
  .meta({ id: 'WebhookDelivery' });

export const DeliveryListSchema = z.object({ items: z.array(DeliverySchema) }).meta({ id: 'WebhookDeliveryList' });
