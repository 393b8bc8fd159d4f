/**
 * Tenants and API keys in the service's single table (key scheme: table-schema.ts, "Credentials"). The
 * request path only reads (GetItem); the api-keys CLI writes, with the operator's own AWS credentials.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { apiKeyIndexKeys, apiKeyItemAttributes, apiKeyItemKey, TABLE_INDEXES, tenantItemKey, withoutTableKeys } from '../table-schema.ts';
import { generateApiKey } from './api-keys.ts';
import { isTenantId, TENANT_ID_RULE } from './tenants.ts';

export interface Tenant {
  tenantId: string;
  createdAt: string;
  /** HS256 secret for the tenant's scoped tokens (32 random bytes, base64url). Never leaves the service. */
  tokenSigningSecret: string;
}

export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  /** An operator's label ("ci", "moderator backend"). */
  name?: string;
  /** SHA-256 of the whole key (hex); the key itself is never stored. */
  keyHash: string;
  createdAt: string;
  revokedAt?: string;
}

/** What `list` shows: everything but the hash. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'keyHash'>;

export class InvalidTenantIdError extends Error {
  constructor(value: string) {
    super(`Invalid tenant id '${value}': ${TENANT_ID_RULE}.`);
    this.name = 'InvalidTenantIdError';
  }
}

export class ApiKeyNotFoundError extends Error {
  constructor(keyId: string) {
    super(`No API key with id '${keyId}'.`);
    this.name = 'ApiKeyNotFoundError';
  }
}

export class CredentialStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: tenantItemKey(tenantId), ConsistentRead: true }));
    return Item ? (withoutTableKeys(Item) as unknown as Tenant) : undefined;
  }

  /** Creates the tenant (with a fresh token-signing secret) unless it exists. */
  async ensureTenant(tenantId: string, now = new Date()): Promise<{ tenant: Tenant; created: boolean }> {
    if (!isTenantId(tenantId)) throw new InvalidTenantIdError(tenantId);
    const tenant: Tenant = { tenantId, createdAt: now.toISOString(), tokenSigningSecret: randomBytes(32).toString('base64url') };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...tenantItemKey(tenantId), ...tenant },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { tenant, created: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { tenant: (await this.getTenant(tenantId))!, created: false };
    }
  }

  /** Creates a key for an existing tenant; the returned `apiKey` is the only copy of the secret. */
  async createApiKey(tenantId: string, name?: string, now = new Date()): Promise<{ apiKey: string; key: ApiKeyInfo }> {
    if (!isTenantId(tenantId)) throw new InvalidTenantIdError(tenantId);
    const { keyId, apiKey, keyHash } = generateApiKey();
    const record: ApiKeyRecord = { keyId, tenantId, ...(name !== undefined && { name }), keyHash, createdAt: now.toISOString() };
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...apiKeyItemAttributes(record), ...record },
        // A key id collision (2^-64) must never overwrite another tenant's key.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { apiKey, key: publicInfo(record) };
  }

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: apiKeyItemKey(keyId), ConsistentRead: true }));
    return Item ? (withoutTableKeys(Item) as unknown as ApiKeyRecord) : undefined;
  }

  /** A tenant's keys, revoked ones included, oldest first; from the byTenant index, never a scan. */
  async listApiKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    const index = TABLE_INDEXES.byTenant;
    const keys: ApiKeyInfo[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': index.partitionKey },
          ExpressionAttributeValues: { ':pk': apiKeyIndexKeys.byTenant(tenantId) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) keys.push(publicInfo(withoutTableKeys(item) as unknown as ApiKeyRecord));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return keys;
  }

  /** Marks a key revoked (kept, so `list` shows it). Revoking a revoked key changes nothing. */
  async revokeApiKey(keyId: string, now = new Date()): Promise<{ key: ApiKeyInfo; alreadyRevoked: boolean }> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: apiKeyItemKey(keyId),
          UpdateExpression: 'SET revokedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { key: publicInfo(withoutTableKeys(Attributes!) as unknown as ApiKeyRecord), alreadyRevoked: false };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const existing = await this.getApiKey(keyId);
      if (!existing) throw new ApiKeyNotFoundError(keyId);
      return { key: publicInfo(existing), alreadyRevoked: true };
    }
  }
}

function publicInfo(record: ApiKeyRecord): ApiKeyInfo {
  const { keyHash: _hash, ...info } = record;
  return info;
}
