/** GET /v1/recordings/{id}: the recording, its status and (once UPLOADED) its files. */
import { DEFAULT_TENANT_ID } from '#core/config.ts';
import { httpHandler, json, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { getRecording } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  const recording = await getRecording(recordingRepository(), DEFAULT_TENANT_ID, pathParam(event, 'id'));
  return json(200, toPublicRecording(recording));
});
