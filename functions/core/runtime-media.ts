/** Dependencies that read, salvage or delete recording media (S3); see runtime.ts. */
import { createS3Client } from './clients/s3.ts';
import { ENV, intEnv, requireEnv } from './config.ts';
import { UploadManifestStore } from './media-upload.ts';
import { traced } from './observability.ts';
import { documentClient, once, recordingRepository } from './runtime.ts';

const s3 = once(() => traced(createS3Client()));

export const salvageDeps = once(() => ({
  s3: s3(),
  bucketName: requireEnv(ENV.bucketName),
  manifests: new UploadManifestStore(documentClient(), requireEnv(ENV.tableName)),
}));
export const downloadDeps = once(() => ({
  s3: s3(),
  bucketName: requireEnv(ENV.bucketName),
  ttlSeconds: intEnv(ENV.downloadUrlTtlSeconds, 3600),
  retentionDays: intEnv(ENV.mediaRetentionDays, 7),
}));
export const mediaDeps = once(() => ({
  repository: recordingRepository(),
  s3: s3(),
  bucketName: requireEnv(ENV.bucketName),
}));
