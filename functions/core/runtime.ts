/**
 * Dependencies built once per Lambda container (module scope), from the environment contract.
 * Built lazily so that a process hosting the handlers (local mode) can set the environment first.
 *
 * This module holds what needs DynamoDB only. What needs another AWS client is in a module of its own
 * (runtime-workflow.ts: Step Functions, runtime-media.ts: S3, runtime-events.ts: EventBridge,
 * runtime-webhooks.ts: SQS), so that a function loads only the SDK clients it uses.
 */
import { createDocumentClient } from './clients/dynamodb.ts';
import { DEFAULT_MAX_CONCURRENT_RECORDINGS, ENV, intEnv, requireEnv } from './config.ts';
import { IdempotencyStore } from './idempotency.ts';
import { traced } from './observability.ts';
import { urlPolicyFromEnv } from './url-policy.ts';
import { RecordingRepository, systemClock } from './recording-repository.ts';
import { Authenticator, cacheSecondsFromEnv } from './auth/authenticator.ts';
import { CredentialStore } from './auth/credential-store.ts';
import { WebhookStore } from './webhooks/webhook-store.ts';

const resets: (() => void)[] = [];

/**
 * A dependency built on first use, and forgotten by resetRuntime. Marked free of side effects for esbuild
 * (registering the reset does not matter for a dependency nothing uses), so that a bundle leaves out the
 * dependencies its function never asks for, and the code they would have pulled in.
 */
/* @__NO_SIDE_EFFECTS__ */
export function once<T>(build: () => T): () => T {
  let value: T | undefined;
  resets.push(() => (value = undefined));
  return () => (value ??= build());
}

/** Forgets the built dependencies, for a process that hosts the handlers more than once (local mode, bench). */
export function resetRuntime(): void {
  for (const reset of resets) reset();
}

/** One DynamoDB client per container, traced, shared by the stores. */
export const documentClient = once(() => traced(createDocumentClient()));

export const recordingRepository = once(
  () =>
    new RecordingRepository(documentClient(), requireEnv(ENV.tableName), systemClock, {
      maxLiveRecordings: intEnv(ENV.maxConcurrentRecordings, DEFAULT_MAX_CONCURRENT_RECORDINGS),
    }),
);
export const credentialStore = once(() => new CredentialStore(documentClient(), requireEnv(ENV.tableName)));
export const authenticator = once(() => new Authenticator(credentialStore(), { cacheSeconds: cacheSecondsFromEnv() }));
export const idempotencyStore = once(() => new IdempotencyStore(documentClient(), requireEnv(ENV.tableName)));
export const webhookStore = once(() => new WebhookStore(documentClient(), requireEnv(ENV.tableName)));
/** The SSRF policy for customer-supplied URLs (ALLOWED_HOSTS opens named hosts). */
export const urlPolicy = once(() => urlPolicyFromEnv());
