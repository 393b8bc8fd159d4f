/** POST /v1/recordings/{id}/pause: asks the recorder to stop capturing until resumed; it then goes PAUSED. */
import { callerFrom } from '#core/caller.ts';
import { expectNoBody, httpHandler, json, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { pauseRecording } from '#core/recording-service.ts';
import { logger } from '#core/observability.ts';
import { recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  expectNoBody(event);
  const recording = await pauseRecording(recordingRepository(), callerFrom(event), pathParam(event, 'id'));
  logger.info('pause requested', { status: recording.status });
  return json(202, toPublicRecording(recording));
});
