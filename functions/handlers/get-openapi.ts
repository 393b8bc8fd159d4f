/** GET /v1/openapi.json: the API's OpenAPI 3.1 document, generated from the schemas the handlers validate with. */
import { httpHandler, json, parseQuery } from '#core/http.ts';
import { openApiDocument } from '#core/openapi.ts';
import { NoQuery } from '#core/schemas.ts';

export const handler = httpHandler(async (event) => {
  parseQuery(event, NoQuery);
  return json(200, openApiDocument(), { 'cache-control': 'no-cache' });
});
