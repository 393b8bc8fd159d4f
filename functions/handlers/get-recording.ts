/** GET /v1/recordings/{id}: the recording's public state. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery, pathParam } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { getRecording } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';
import { NoQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  const recording = await getRecording(recordingRepository(), callerFrom(event), pathParam(event, 'id'));
  return json(200, toPublicRecording(recording));
});
