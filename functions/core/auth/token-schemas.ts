/** POST /v1/tokens request and response schemas (handlers validate with them; the OpenAPI document describes them). */
import * as z from 'zod';
import { ACTIONS } from '../caller.ts';
import { MeetingId } from '../schemas.ts';
import { DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS } from './scoped-tokens.ts';

export const CreateTokenBody = z.strictObject({
  meetingId: MeetingId,
  actions: z
    .array(z.enum(ACTIONS, { error: `each action must be one of ${ACTIONS.join(', ')}` }), { error: 'actions must be an array' })
    .min(1, 'actions must name at least one action')
    .max(ACTIONS.length * 2, 'actions has too many entries'),
  ttlSeconds: z
    .number({ error: 'ttlSeconds must be a number' })
    .int('ttlSeconds must be a whole number of seconds')
    .min(1, 'ttlSeconds must be at least 1')
    .max(MAX_TOKEN_TTL_SECONDS, `ttlSeconds must be at most ${MAX_TOKEN_TTL_SECONDS} (24 h)`)
    .optional()
    .describe(`Lifetime in seconds; default ${DEFAULT_TOKEN_TTL_SECONDS}`),
});
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const CreateTokenResponse = z.object({
  token: z.string().describe('A JWT (HS256); send it as Authorization: Bearer <token>'),
  tokenType: z.literal('Bearer'),
  expiresAt: z.string().describe('ISO 8601'),
  meetingId: MeetingId,
  actions: z.array(z.enum(ACTIONS)),
});
