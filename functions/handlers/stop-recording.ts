/** POST /v1/recordings/{id}/stop: asks the recorder to stop; it then goes UPLOADING and UPLOADED. */
import { callerFrom } from '#core/caller.ts';
import { expectNoBody, httpHandler, json, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { stopRecording } from '#core/recording-service.ts';
import { logger } from '#core/observability.ts';
import { recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  expectNoBody(event);
  const recording = await stopRecording(recordingRepository(), callerFrom(event), pathParam(event, 'id'));
  logger.info('stop requested', { status: recording.status });
  return json(202, toPublicRecording(recording));
});
