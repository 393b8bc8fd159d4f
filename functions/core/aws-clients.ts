/**
 * SDK client factories. On AWS they use the defaults; locally the ENV endpoint overrides point them at the
 * emulators. Callers build clients once at module scope.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from './config.ts';

type Env = NodeJS.ProcessEnv;

const endpoint = (env: Env, name: string) => env[name] || undefined;

export function createDocumentClient(env: Env = process.env): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ endpoint: endpoint(env, ENV.dynamodbEndpoint), maxAttempts: 5 });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * `retries: 'caller'` is for a caller with its own retry loop (the recorder's uploader): one attempt per
 * call, and timeouts so that a dead endpoint fails fast instead of hanging.
 */
export function createS3Client(env: Env = process.env, retries: 'sdk' | 'caller' = 'sdk'): S3Client {
  return new S3Client({
    endpoint: endpoint(env, ENV.s3Endpoint),
    forcePathStyle: env[ENV.s3ForcePathStyle] === 'true',
    maxAttempts: retries === 'sdk' ? 5 : 1,
    ...(retries === 'caller' && { requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000 } }),
  });
}

export function createSfnClient(env: Env = process.env): SFNClient {
  return new SFNClient({ endpoint: endpoint(env, ENV.sfnEndpoint), maxAttempts: 5 });
}

export function createEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({ maxAttempts: 5 });
}

export function createSqsClient(): SQSClient {
  return new SQSClient({ maxAttempts: 5 });
}
