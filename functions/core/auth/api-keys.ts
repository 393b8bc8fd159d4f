/**
 * API keys: `mr_{keyId}_{secret}`. The key id (16 hex digits) is public: it names the key's item, so a lookup
 * is one GetItem, and it is what `list` shows and `revoke` takes. The secret is 32 random bytes (base64url,
 * 43 characters). Only the SHA-256 of the whole key is stored: the secret has 256 bits of entropy, so a
 * fast hash is enough (a slow password hash protects low-entropy secrets, which these are not).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'mr_';
const KEY_ID_BYTES = 8;
const SECRET_BYTES = 32;
const API_KEY_PATTERN = /^mr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

export interface NewApiKey {
  keyId: string;
  /** The whole key, shown once. */
  apiKey: string;
  /** What is stored: SHA-256 of the whole key, hex. */
  keyHash: string;
}

export function generateApiKey(): NewApiKey {
  const keyId = randomBytes(KEY_ID_BYTES).toString('hex');
  const apiKey = `${API_KEY_PREFIX}${keyId}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { keyId, apiKey, keyHash: hashApiKey(apiKey) };
}

/** The key id of a well-formed key; undefined for anything else. */
export function parseApiKey(apiKey: string): { keyId: string } | undefined {
  const m = API_KEY_PATTERN.exec(apiKey);
  return m ? { keyId: m[1]! } : undefined;
}

export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented key with a stored hash. */
export function apiKeyMatches(apiKey: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKey(apiKey), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
