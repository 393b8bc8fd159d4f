/**
 * Idempotency keys for every POST. A client that retries a POST with the same `Idempotency-Key` gets the
 * first answer again, and nothing is done twice (no second recording, no second workflow). The key is
 * scoped to the tenant and remembered for 24 h.
 *
 * - The first request with a key claims it with a conditional PutItem (IN_PROGRESS) and runs.
 * - A 2xx answer is stored (COMPLETED) and replayed to every later request with that key, marked
 *   `Idempotent-Replayed: true`. An error answer is not stored: the claim is dropped so the client can retry.
 *   Nor is an answer marked `Cache-Control: no-store` (a minted token): secrets are not kept in the table,
 *   and such a route must be safe to run twice.
 * - A request that arrives while the first still runs waits for its answer (up to WAIT_MS), then gets
 *   409 `idempotency_in_progress`.
 * - The same key with a different request (method, path or body) gets 422 `idempotency_key_reused`.
 * - A claim whose holder died (no answer within CLAIM_MS) can be taken over.
 */
import { createHash } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { callerFrom } from './caller.ts';
import { AppError } from './errors.ts';
import type { HttpEvent, HttpResult } from './http.ts';
import { PARTITION_PREFIXES, TABLE_KEYS, TTL_ATTRIBUTE } from './table-schema.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const REMEMBER_SECONDS = 24 * 60 * 60;
const CLAIM_MS = 60_000;
const WAIT_MS = 15_000;
const POLL_MS = 100;

export class InvalidIdempotencyKeyError extends AppError {
  constructor() {
    super(400, 'invalid_idempotency_key', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.');
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request; use a new key for a new request.');
  }
}

export class IdempotencyInProgressError extends AppError {
  constructor() {
    super(409, 'idempotency_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly to get its answer.');
  }
}

type Claim = { kind: 'claimed' } | { kind: 'replay'; response: HttpResult } | { kind: 'busy' } | { kind: 'mismatch' };

/** The item remembering one POST: the tenant and a hash of its Idempotency-Key. */
export function idempotencyItemKey(tenantId: string, idempotencyKey: string): Record<string, string> {
  const hash = createHash('sha256').update(idempotencyKey).digest('base64url');
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.idempotency}${tenantId}#${hash}`, [TABLE_KEYS.sortKey]: 'REQUEST' };
}

export class IdempotencyStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  private key(tenantId: string, idempotencyKey: string) {
    return idempotencyItemKey(tenantId, idempotencyKey);
  }

  async claim(tenantId: string, idempotencyKey: string, fingerprint: string): Promise<Claim> {
    const key = this.key(tenantId, idempotencyKey);
    const nowMs = Date.now();
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, state: 'IN_PROGRESS', fingerprint, claimExpiresAtMs: nowMs + CLAIM_MS, [TTL_ATTRIBUTE]: Math.floor(nowMs / 1000) + REMEMBER_SECONDS },
          // Free, forgotten (TTL deletes lazily), or abandoned by a holder that died.
          ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey}) OR #ttl < :nowEpoch OR (#state = :inProgress AND claimExpiresAtMs < :nowMs AND fingerprint = :fingerprint)`,
          ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE, '#state': 'state' },
          ExpressionAttributeValues: { ':nowEpoch': Math.floor(nowMs / 1000), ':inProgress': 'IN_PROGRESS', ':nowMs': nowMs, ':fingerprint': fingerprint },
        }),
      );
      return { kind: 'claimed' };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    return this.inspect(key, fingerprint);
  }

  private async inspect(key: Record<string, string>, fingerprint: string): Promise<Claim> {
    const item = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
    if (!item) return { kind: 'busy' }; // dropped a moment ago: the caller claims again
    if (item.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (item.state === 'COMPLETED') return { kind: 'replay', response: item.response as HttpResult };
    return { kind: 'busy' };
  }

  /** Claims the key, or waits for the running request's answer. */
  async claimOrWait(tenantId: string, idempotencyKey: string, fingerprint: string): Promise<Claim> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const claim = await this.claim(tenantId, idempotencyKey, fingerprint);
      if (claim.kind !== 'busy' || Date.now() >= deadline) return claim;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async complete(tenantId: string, idempotencyKey: string, response: HttpResult): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(tenantId, idempotencyKey),
        UpdateExpression: 'SET #state = :completed, #response = :response',
        ExpressionAttributeNames: { '#state': 'state', '#response': 'response' },
        ExpressionAttributeValues: { ':completed': 'COMPLETED', ':response': response },
      }),
    );
  }

  async release(tenantId: string, idempotencyKey: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: this.key(tenantId, idempotencyKey) }));
  }
}

/** What makes two requests "the same": method, path and the body's JSON value (not its whitespace or key order). */
export function requestFingerprint(event: HttpEvent): string {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  let body = raw;
  try {
    body = canonicalJson(JSON.parse(raw));
  } catch {
    // not JSON: the raw bytes (the handler rejects it anyway)
  }
  return createHash('sha256').update(`${event.requestContext?.http?.method ?? ''} ${event.rawPath ?? ''}\n${body}`).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

/** Middleware for POST routes; runs after authentication (the key is scoped to the caller's tenant). */
export function idempotency(store: () => IdempotencyStore): MiddlewareObj<HttpEvent, HttpResult> {
  const claimed = new WeakMap<object, { tenantId: string; key: string }>();
  return {
    name: 'idempotency',
    before: async (request) => {
      const event = request.event;
      if (event.requestContext?.http?.method !== 'POST') return;
      const key = event.headers?.[IDEMPOTENCY_HEADER];
      if (key === undefined) return;
      if (!VALID_KEY.test(key)) throw new InvalidIdempotencyKeyError();
      const { tenantId } = callerFrom(event);
      const claim = await store().claimOrWait(tenantId, key, requestFingerprint(event));
      if (claim.kind === 'mismatch') throw new IdempotencyKeyReusedError();
      if (claim.kind === 'busy') throw new IdempotencyInProgressError();
      if (claim.kind === 'replay') {
        const replay = { ...claim.response, headers: { ...claim.response.headers, 'idempotent-replayed': 'true' } };
        request.response = replay;
        return replay;
      }
      claimed.set(request, { tenantId, key });
    },
    after: async (request) => {
      const mine = claimed.get(request);
      if (!mine || !request.response) return;
      const noStore = /\bno-store\b/i.test(request.response.headers?.['cache-control'] ?? '');
      if (request.response.statusCode >= 200 && request.response.statusCode < 300 && !noStore) {
        await store().complete(mine.tenantId, mine.key, request.response);
      } else {
        await store().release(mine.tenantId, mine.key);
      }
    },
    onError: async (request) => {
      const mine = claimed.get(request);
      if (mine) await store().release(mine.tenantId, mine.key).catch(() => undefined);
    },
  };
}
