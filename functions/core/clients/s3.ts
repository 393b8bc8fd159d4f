import { S3Client } from '@aws-sdk/client-s3';
import { ENV } from '../config.ts';
import { endpointOverride, type Env } from './endpoint.ts';

/**
 * `retries: 'caller'` is for a caller with its own retry loop (the recorder's uploader): one attempt per
 * call, and timeouts so that a dead endpoint fails fast instead of hanging.
 */
export function createS3Client(env: Env = process.env, retries: 'sdk' | 'caller' = 'sdk'): S3Client {
  return new S3Client({
    endpoint: endpointOverride(env, ENV.s3Endpoint),
    forcePathStyle: env[ENV.s3ForcePathStyle] === 'true',
    maxAttempts: retries === 'sdk' ? 5 : 1,
    ...(retries === 'caller' && { requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000 } }),
  });
}
