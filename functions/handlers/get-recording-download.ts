/** GET /v1/recordings/{id}/download: a presigned, expiring URL for each file. */
import { DEFAULT_TENANT_ID } from '#core/config.ts';
import { httpHandler, json, pathParam } from '#core/http.ts';
import { getRecording, presignDownloads } from '#core/recording-service.ts';
import { downloadDeps, recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  const recording = await getRecording(recordingRepository(), DEFAULT_TENANT_ID, pathParam(event, 'id'));
  const files = await presignDownloads(downloadDeps(), recording);
  return json(200, { recordingId: recording.id, files });
});
