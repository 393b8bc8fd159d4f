/**
 * Local mode's credentials. Every API route needs credentials locally too (the same middleware as on AWS),
 * so at start local mode makes sure tenant `local` has a working API key and keeps it in
 * `<data-dir>/api-key` (mode 0600), where the README's curl examples, the demo and the tests read it.
 *
 * While it runs, local mode also writes `<data-dir>/local-endpoints.json` (DynamoDB endpoint, table, pid), so
 * the api-keys CLI can manage keys through the running service's DynamoDB emulator; dynalite's data folder
 * can only be opened by one process at a time.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiKeyMatches, parseApiKey } from '#core/auth/api-keys.ts';
import type { CredentialStore } from '#core/auth/credential-store.ts';

export const LOCAL_TENANT_ID = 'local';
export const API_KEY_FILE = 'api-key';
export const ENDPOINTS_FILE = 'local-endpoints.json';

export const apiKeyPath = (dataDir: string) => join(dataDir, API_KEY_FILE);
export const endpointsPath = (dataDir: string) => join(dataDir, ENDPOINTS_FILE);

/** Reuses the saved key while it is valid (not revoked, still the local tenant's), else creates and saves a new one. */
export async function ensureLocalApiKey(store: CredentialStore, dataDir: string): Promise<{ apiKey: string; created: boolean }> {
  const saved = readSavedApiKey(dataDir);
  if (saved) {
    const parsed = parseApiKey(saved);
    const record = parsed && (await store.getApiKey(parsed.keyId));
    if (record && !record.revokedAt && record.tenantId === LOCAL_TENANT_ID && apiKeyMatches(saved, record.keyHash)) return { apiKey: saved, created: false };
  }
  await store.ensureTenant(LOCAL_TENANT_ID);
  const { apiKey } = await store.createApiKey(LOCAL_TENANT_ID, 'local mode');
  const path = apiKeyPath(dataDir);
  writeFileSync(path, `${apiKey}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode above applies only when the file is created
  return { apiKey, created: true };
}

export function readSavedApiKey(dataDir: string): string | undefined {
  const path = apiKeyPath(dataDir);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
}

export interface LocalEndpoints {
  dynamodbEndpoint: string;
  tableName: string;
  pid: number;
}

export function writeLocalEndpoints(dataDir: string, endpoints: LocalEndpoints): void {
  writeFileSync(endpointsPath(dataDir), `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
}

export function removeLocalEndpoints(dataDir: string): void {
  rmSync(endpointsPath(dataDir), { force: true });
}

/** The running local service's endpoints, if the file names a live process. */
export function readLocalEndpoints(dataDir: string): LocalEndpoints | undefined {
  let endpoints: LocalEndpoints;
  try {
    endpoints = JSON.parse(readFileSync(endpointsPath(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof endpoints?.dynamodbEndpoint !== 'string' || typeof endpoints.pid !== 'number') return undefined;
  try {
    process.kill(endpoints.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined; // left behind by a killed service
  }
  return endpoints;
}
