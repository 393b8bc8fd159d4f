/**
 * The environment contract, shared by the Lambda handlers, the recorder container and local mode.
 * Local mode sets the same variables (plus endpoint overrides) that CDK sets on AWS.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  bucketName: 'BUCKET_NAME',
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** Endpoint overrides: unset on AWS; local mode points them at the emulators. */
  dynamodbEndpoint: 'AWS_ENDPOINT_URL_DYNAMODB',
  s3Endpoint: 'AWS_ENDPOINT_URL_S3',
  sfnEndpoint: 'AWS_ENDPOINT_URL_SFN',
  ecsEndpoint: 'AWS_ENDPOINT_URL_ECS',
  /** The recorders' ECS cluster: MarkErrored stops a lost recorder's task in it (unset locally: no ECS). */
  clusterArn: 'CLUSTER_ARN',
  /** "true" for S3 emulators that only understand path-style URLs. */
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  /** Days S3 keeps media before its lifecycle rule deletes it; download URLs never outlive it. */
  mediaRetentionDays: 'MEDIA_RETENTION_DAYS',
  /** Presigned download URL lifetime (seconds). */
  downloadUrlTtlSeconds: 'DOWNLOAD_URL_TTL_SECONDS',
  /** SSRF allowlist: comma-separated `host`, `host:port` or `*.domain` entries (functions/core/url-policy.ts). */
  allowedHosts: 'ALLOWED_HOSTS',
  /** Seconds a Lambda container remembers a found API key or tenant (the revocation delay); 0 disables. */
  authCacheSeconds: 'AUTH_CACHE_SECONDS',
  /** The custom bus status events go to (functions/core/outbox.ts), and their `source`. */
  eventBusName: 'EVENT_BUS_NAME',
  eventSource: 'EVENT_SOURCE',
  /** Webhook delivery: the queue attempts are scheduled on, and the dead-letter queue (functions/core/webhooks). */
  webhookQueueUrl: 'WEBHOOK_QUEUE_URL',
  webhookDlqUrl: 'WEBHOOK_DLQ_URL',
  /** Most recordings live at once, service-wide; a start beyond it is refused (429 concurrency_limit_reached). */
  maxConcurrentRecordings: 'MAX_CONCURRENT_RECORDINGS',
} as const;

/**
 * MAX_CONCURRENT_RECORDINGS when unset: 50 recorders of the default size (1 vCPU) fit a 50-vCPU Fargate quota.
 * Lower it to what the account's quota allows (see RecordingServiceProps.maxConcurrentRecordings).
 */
export const DEFAULT_MAX_CONCURRENT_RECORDINGS = 50;

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`Missing required environment variable ${name}`);
  return value;
}

export function intEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}
