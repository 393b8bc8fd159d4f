/**
 * Entry point of the recorder container (and of local mode's stand-in for the ECS task).
 * Builds the real seams from the environment contract and runs one recording.
 */
import { createDocumentClient, createS3Client, createSfnClient } from '#core/aws-clients.ts';
import { RecordingRepository } from '#core/recording-repository.ts';
import { loadRecorderConfig } from './config.ts';
import { PollingControlChannel } from './control-channel.ts';
import { createLogger } from './log.ts';
import { runRecorder } from './recorder.ts';
import { WorkflowReporter } from './reporter.ts';
import { MediaUploader } from './media-uploader.ts';
import { UploadManifestStore } from '#core/media-upload.ts';

const processStartMs = performance.timeOrigin;
let config;
try {
  config = loadRecorderConfig();
} catch (err) {
  // Without its configuration the recorder cannot even report to the workflow; say why and stop.
  console.error(`recorder: ${(err as Error).message}. See recorder-image/src/config.ts for the environment contract.`);
  process.exit(2);
}
const log = createLogger({ service: 'recorder', recordingId: config.recordingId });
const documentClient = createDocumentClient();
const repository = new RecordingRepository(documentClient, config.tableName);
const manifests = new UploadManifestStore(documentClient, config.tableName);
// The uploader retries on its own (with backoff, through S3 outages): one SDK attempt per call.
const s3 = createS3Client(process.env, 'caller');

// ECS StopTask sends SIGTERM and allows stopTimeout (120 s) before SIGKILL: finalize within it.
let onTerminate!: () => void;
const terminated = new Promise<void>((resolve) => (onTerminate = resolve));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    log.info('signal received; finalizing', { signal });
    onTerminate();
  });
}

const exitCode = await runRecorder({
  config,
  repository,
  reporter: new WorkflowReporter({ repository, sfn: createSfnClient(), recordingId: config.recordingId, taskToken: config.taskToken, log }),
  control: new PollingControlChannel(repository, config.recordingId, config.controlPollMs, log),
  log,
  createSink: (key, capture) =>
    new MediaUploader(
      {
        s3,
        bucket: config.bucketName,
        key,
        recordingId: config.recordingId,
        manifests,
        log,
        mediaSeconds: () => capture.encodedSeconds,
        maxBufferedBytes: config.uploadBufferMaxBytes,
      },
      capture.output,
    ),
  terminated,
  processStartMs,
});
process.exit(exitCode);
