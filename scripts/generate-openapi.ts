/**
 * Writes the OpenAPI document (functions/core/openapi.ts) to openapi.json at the repository root, or to the
 * path given: `npm run openapi [-- <path>]`. test/unit/openapi.test.ts fails when the shipped file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildOpenApiDocument, openApiJson } from '../functions/core/openapi.ts';

const target = process.argv[2] ? resolve(process.argv[2]) : resolve(import.meta.dirname, '..', 'openapi.json');
writeFileSync(target, openApiJson(buildOpenApiDocument()));
console.log(`wrote ${target}`);
