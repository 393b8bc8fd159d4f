/** POST /v1/recordings: accepts a recording (INVOKED) and starts its workflow. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseJsonBody } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { reportRecordingStarted } from '#core/recording-metrics.ts';
import { createRecording } from '#core/recording-service.ts';
import { recordingRepository, urlPolicy } from '#core/runtime.ts';
import { workflowStarter } from '#core/runtime-workflow.ts';
import { CreateRecordingBody } from '#core/schemas.ts';
import { checkUrlAllowed } from '#core/url-policy.ts';

export const handler = httpHandler(async (event) => {
  const body = parseJsonBody(event, CreateRecordingBody);
  const recording = await createRecording(
    { repository: recordingRepository(), workflow: workflowStarter(), checkUrl: (url) => checkUrlAllowed(url, urlPolicy()) },
    callerFrom(event),
    body,
  );
  reportRecordingStarted(recording);
  return json(201, toPublicRecording(recording), { location: `/v1/recordings/${recording.id}` });
});
