/** GET /v1/meetings/{meetingId}/active-recording: the meeting's live recording, or 404. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery, pathParam, validate } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { activeRecording } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';
import * as z from 'zod';
import { MeetingId, NoQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  const { meetingId } = validate(z.strictObject({ meetingId: MeetingId }), { meetingId: pathParam(event, 'meetingId') }, 'path');
  const recording = await activeRecording(recordingRepository(), callerFrom(event), meetingId);
  return json(200, toPublicRecording(recording));
});
