/** GET /v1/recordings: a tenant's recordings, newest first, filtered and paged with an opaque cursor. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, json, parseQuery } from '#core/http.ts';
import { toPublicRecording } from '#core/recording.ts';
import { listRecordings } from '#core/recording-service.ts';
import { recordingRepository } from '#core/runtime.ts';
import { ListRecordingsQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  const query = parseQuery(event, ListRecordingsQuery);
  const page = await listRecordings(recordingRepository(), callerFrom(event), query);
  return json(200, { items: page.items.map(toPublicRecording), ...(page.nextCursor && { nextCursor: page.nextCursor }) });
});
