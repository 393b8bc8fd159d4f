/**
 * Dependencies built once per Lambda container (module scope), from the environment contract.
 * Built lazily so that a process hosting the handlers (local mode) can set the environment first.
 */
import { createDocumentClient, createS3Client, createSfnClient } from './aws-clients.ts';
import { ENV, intEnv, requireEnv } from './config.ts';
import { IdempotencyStore } from './idempotency.ts';
import { urlPolicyFromEnv } from './url-policy.ts';
import { UploadManifestStore } from './media-upload.ts';
import { RecordingRepository } from './recording-repository.ts';
import { StepFunctionsWorkflowStarter } from './workflow-starter.ts';
import { Authenticator, cacheSecondsFromEnv } from './auth/authenticator.ts';
import { CredentialStore } from './auth/credential-store.ts';

const resets: (() => void)[] = [];

function once<T>(build: () => T): () => T {
  let value: T | undefined;
  resets.push(() => (value = undefined));
  return () => (value ??= build());
}

/** Forgets the built dependencies, for a process that hosts the handlers more than once (local mode, bench). */
export function resetRuntime(): void {
  for (const reset of resets) reset();
}

export const recordingRepository = once(() => new RecordingRepository(createDocumentClient(), requireEnv(ENV.tableName)));
export const workflowStarter = once(() => new StepFunctionsWorkflowStarter(createSfnClient(), requireEnv(ENV.stateMachineArn)));
export const salvageDeps = once(() => ({
  s3: createS3Client(),
  bucketName: requireEnv(ENV.bucketName),
  manifests: new UploadManifestStore(createDocumentClient(), requireEnv(ENV.tableName)),
}));
export const downloadDeps = once(() => ({
  s3: createS3Client(),
  bucketName: requireEnv(ENV.bucketName),
  ttlSeconds: intEnv(ENV.downloadUrlTtlSeconds, 3600),
  retentionDays: intEnv(ENV.mediaRetentionDays, 7),
}));
export const mediaDeps = once(() => ({
  repository: recordingRepository(),
  s3: createS3Client(),
  bucketName: requireEnv(ENV.bucketName),
}));
export const credentialStore = once(() => new CredentialStore(createDocumentClient(), requireEnv(ENV.tableName)));
export const authenticator = once(() => new Authenticator(credentialStore(), { cacheSeconds: cacheSecondsFromEnv() }));
export const idempotencyStore = once(() => new IdempotencyStore(createDocumentClient(), requireEnv(ENV.tableName)));
/** The SSRF policy for customer-supplied URLs (ALLOWED_HOSTS opens named hosts). */
export const urlPolicy = once(() => urlPolicyFromEnv());
