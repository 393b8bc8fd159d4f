/** Starts a real local stack (emulators over HTTP, local Step Functions, recorder processes) in a temp dir. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDocumentClient } from '../../functions/core/clients/dynamodb.ts';
import { CredentialStore } from '../../functions/core/auth/credential-store.ts';
import { RecordingApiClient } from '../../local/api-client.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/local-stack.ts';

export interface TestTenant {
  tenantId: string;
  keyId: string;
  apiKey: string;
  /** A client that sends this tenant's API key. */
  api: RecordingApiClient;
}

export interface TestStack {
  stack: LocalStack;
  /** A client with local mode's API key (tenant `local`). */
  api: RecordingApiClient;
  dataDir: string;
  /** The stack's tenants and API keys, in its DynamoDB emulator. */
  credentials: CredentialStore;
  /** A new tenant (a random id unless given) with a fresh API key. */
  createTenant(tenantId?: string): Promise<TestTenant>;
  stop(): Promise<void>;
}

export async function startTestStack(opts: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mr-test-'));
  // The suite's meeting pages are served on 127.0.0.1 (any port); SSRF tests use 127.0.0.2 and up as forbidden hosts.
  const stack = await startLocalStack({ dataDir, port: 0, allowedHosts: ['127.0.0.1'], ...opts });
  const credentials = new CredentialStore(createDocumentClient(), stack.tableName);
  const api = new RecordingApiClient(stack.url, stack.apiKey);
  return {
    stack,
    api,
    dataDir,
    credentials,
    async createTenant(tenantId = `t-${randomBytes(6).toString('hex')}`) {
      await credentials.ensureTenant(tenantId);
      const { apiKey, key } = await credentials.createApiKey(tenantId, 'test');
      return { tenantId, keyId: key.keyId, apiKey, api: api.withCredential(apiKey) };
    },
    async stop() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
