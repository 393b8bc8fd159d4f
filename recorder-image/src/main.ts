/**
 * Entry point of the recorder container (and of local mode's stand-in for the ECS task).
 * Builds the real seams from the environment contract and runs one recording.
 */
import { createDocumentClient } from '#core/clients/dynamodb.ts';
import { createS3Client } from '#core/clients/s3.ts';
import { createSfnClient } from '#core/clients/sfn.ts';
import { RecordingRepository } from '#core/recording-repository.ts';
import { loadRecorderConfig } from './config.ts';
import { PollingControlChannel } from './control-channel.ts';
import { ecsTaskId } from './ecs-metadata.ts';
import { createLogger } from './log.ts';
import { runRecorder } from './recorder.ts';
import { WorkflowReporter } from './reporter.ts';
import { MediaUploader } from './media-uploader.ts';
import { UploadManifestStore } from '#core/media-upload.ts';

const processStartMs = performance.timeOrigin;
// Every line is JSON with the correlation keys (log.ts); tenantId is added once the recording is read.
const taskId = await ecsTaskId();
const log = createLogger({ service: 'recorder', recordingId: process.env.RECORDING_ID, ...(taskId && { ecsTaskId: taskId }) });
// A crash is logged as JSON too (Node's own report is plain text); the exit code stays 1, as without a handler.
process.on('uncaughtException', (err, origin) => {
  log.error('recorder crashed', { origin, error: err });
  process.exit(1);
});
let config;
try {
  config = loadRecorderConfig();
} catch (err) {
  // Without its configuration the recorder cannot even report to the workflow; say why (on stderr, where a
  // person starting it by hand looks) and stop.
  createLogger({ service: 'recorder' }, (line) => void process.stderr.write(`${line}\n`)).error(
    `recorder: ${(err as Error).message}. See recorder-image/src/config.ts for the environment contract.`,
  );
  process.exit(2);
}
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
