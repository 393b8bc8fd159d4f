/** DELETE /v1/recordings/{id}: removes an ended recording's files and its record. */
import { callerFrom } from '#core/caller.ts';
import { httpHandler, parseQuery, pathParam } from '#core/http.ts';
import { logger } from '#core/observability.ts';
import { deleteRecording } from '#core/recording-service.ts';
import { mediaDeps } from '#core/runtime-media.ts';
import { NoQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  await deleteRecording(mediaDeps(), callerFrom(event), pathParam(event, 'id'));
  logger.info('recording deleted');
  return { statusCode: 204, headers: {}, body: '' };
});
