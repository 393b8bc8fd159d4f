/** GET /v1/recordings/{id}/download?expiresIn=: a presigned, expiring URL for each file. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery, pathParam } from '#core/http.ts';
import { getRecording, presignDownloads } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';
import { downloadDeps } from '#core/runtime-media.ts';
import { DownloadQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  const query = parseQuery(event, DownloadQuery);
  const recording = await getRecording(recordingRepository(), callerFrom(event), pathParam(event, 'id'));
  const files = await presignDownloads(downloadDeps(), recording, query.expiresIn);
  return json(200, { recordingId: recording.id, files });
});
