/** POST /v1/recordings/{id}/stop: asks the recorder to stop; it then goes UPLOADING and UPLOADED. */
import { DEFAULT_TENANT_ID } from '#core/config.ts';
import { httpHandler, json, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { stopRecording } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  const recording = await stopRecording(recordingRepository(), DEFAULT_TENANT_ID, pathParam(event, 'id'));
  return json(202, toPublicRecording(recording));
});
