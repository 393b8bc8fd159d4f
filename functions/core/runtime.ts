/**
 * Dependencies built once per Lambda container (module scope), from the environment contract.
 * Built lazily so that a process hosting the handlers (local mode) can set the environment first.
 */
import { createDocumentClient, createS3Client, createSfnClient } from './aws-clients.ts';
import { ENV, intEnv, requireEnv } from './config.ts';
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
}));
export const credentialStore = once(() => new CredentialStore(createDocumentClient(), requireEnv(ENV.tableName)));
export const authenticator = once(() => new Authenticator(credentialStore(), { cacheSeconds: cacheSecondsFromEnv() }));
