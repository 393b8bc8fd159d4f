/** POST /v1/recordings/{id}/resume: asks the recorder to capture again; it then goes RECORDING. */
import { callerFrom } from '#core/caller.ts';
import { expectNoBody, httpHandler, json, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { resumeRecording } from '#core/recording-service.ts';
import { logger } from '#core/observability.ts';
import { recordingRepository } from '#core/runtime.ts';

export const handler = httpHandler(async (event) => {
  expectNoBody(event);
  const recording = await resumeRecording(recordingRepository(), callerFrom(event), pathParam(event, 'id'));
  logger.info('resume requested', { status: recording.status });
  return json(202, toPublicRecording(recording));
});
