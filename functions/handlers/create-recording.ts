/** POST /v1/recordings: accepts a recording (INVOKED) and starts its workflow. */
import { DEFAULT_TENANT_ID } from '#core/config.ts';
import { httpHandler, json, parseJsonBody } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { createRecording } from '#core/recording-service.ts';
import { recordingRepository, workflowStarter } from '#core/runtime.ts';
import { CreateRecordingBody } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  const body = parseJsonBody(event, CreateRecordingBody);
  const recording = await createRecording({ repository: recordingRepository(), workflow: workflowStarter() }, DEFAULT_TENANT_ID, body);
  return json(201, toPublicRecording(recording), { location: `/v1/recordings/${recording.id}` });
});
