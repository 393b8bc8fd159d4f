/**
 * Dependencies built once per Lambda container (module scope), from the environment contract.
 * Built lazily so that a process hosting the handlers (local mode) can set the environment first.
 */
import { createDocumentClient, createEventBridgeClient, createS3Client, createSfnClient, createSqsClient } from './aws-clients.ts';
import { ENV, intEnv, requireEnv } from './config.ts';
import { IdempotencyStore } from './idempotency.ts';
import { checkUrlAllowed, urlPolicyFromEnv } from './url-policy.ts';
import type { MeetingEventDeps } from './meeting-events.ts';
import { UploadManifestStore } from './media-upload.ts';
import { RecordingRepository } from './recording-repository.ts';
import { StepFunctionsWorkflowStarter } from './workflow-starter.ts';
import { Authenticator, cacheSecondsFromEnv } from './auth/authenticator.ts';
import { CredentialStore } from './auth/credential-store.ts';
import { EventBridgeSink } from './eventbridge-sink.ts';
import { OutboxPublisher } from './outbox.ts';
import { DEFAULT_EVENT_SOURCE } from './recording-events.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './webhooks/retry-policy.ts';
import { httpWebhookSender } from './webhooks/sender.ts';
import { SqsDeadLetterSink, SqsDeliveryScheduler } from './webhooks/sqs-delivery.ts';
import { WebhookDeliverer, type DeadLetterSink, type DeliveryScheduler, type WebhookClock } from './webhooks/webhook-deliverer.ts';
import { WebhookStore } from './webhooks/webhook-store.ts';

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

export const eventPublisher = once(
  () =>
    new OutboxPublisher({
      db: createDocumentClient(),
      tableName: requireEnv(ENV.tableName),
      sink: new EventBridgeSink(createEventBridgeClient()),
      source: process.env[ENV.eventSource] || DEFAULT_EVENT_SOURCE,
      eventBusName: requireEnv(ENV.eventBusName),
    }),
);

/** What the meeting-events trigger needs: the API's create path (lock, SSRF check, workflow) and the tenants. */
export const meetingEventDeps = once(
  (): MeetingEventDeps => ({
    repository: recordingRepository(),
    workflow: workflowStarter(),
    checkUrl: (url) => checkUrlAllowed(url, urlPolicy()),
    tenantExists: async (tenantId) => (await credentialStore().getTenant(tenantId)) !== undefined,
    log: (level, message, fields) => (level === 'WARN' ? console.warn : console.log)(JSON.stringify({ level, message, ...fields })),
  }),
);

export const webhookStore = once(() => new WebhookStore(createDocumentClient(), requireEnv(ENV.tableName)));

/** What local mode puts in place of SQS (an in-process timer queue) and its retry timing. */
export interface WebhookDeliveryOverrides {
  scheduler: DeliveryScheduler;
  deadLetters: DeadLetterSink;
  policy?: RetryPolicy;
  clock?: WebhookClock;
}
let webhookOverrides: WebhookDeliveryOverrides | undefined;

/** Local mode: deliver through these instead of SQS (survives resetRuntime; undefined restores SQS). */
export function useWebhookDelivery(overrides: WebhookDeliveryOverrides | undefined): void {
  webhookOverrides = overrides;
  resetRuntime();
}

export const webhookDeliverer = once(() => {
  const sqs = webhookOverrides ? undefined : createSqsClient();
  return new WebhookDeliverer({
    store: webhookStore(),
    sender: httpWebhookSender(urlPolicy(), webhookOverrides?.clock ? () => webhookOverrides!.clock!.nowMs() : Date.now),
    scheduler: webhookOverrides?.scheduler ?? new SqsDeliveryScheduler(sqs!, () => requireEnv(ENV.webhookQueueUrl)),
    deadLetters: webhookOverrides?.deadLetters ?? new SqsDeadLetterSink(sqs!, () => requireEnv(ENV.webhookDlqUrl)),
    policy: webhookOverrides?.policy ?? DEFAULT_RETRY_POLICY,
    clock: webhookOverrides?.clock,
  });
});
