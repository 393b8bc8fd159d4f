/**
 * The OpenAPI document: valid OpenAPI 3.1 by an independent validator, the shipped openapi.json up to date,
 * every route described, its schemas the ones the handlers validate with, and every error code the code
 * can answer with in the catalog.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CreateTokenBody } from '../../functions/core/auth/token-schemas.ts';
import { buildOpenApiDocument, ERROR_CODES, errorCodesOf, openApiJson } from '../../functions/core/openapi.ts';
import { CreateRecordingBody, ListRecordingsQuery } from '../../functions/core/schemas.ts';
import { ROUTES } from '../../functions/routes.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const doc = buildOpenApiDocument() as any;

/** Every `$ref` in the document, with where it is. */
function refsOf(node: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => refsOf(v, `${at}/${i}`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refsOf(v, `${at}/${k}`)));
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, part) => (node === undefined ? undefined : node[part]), root);
}

/** An Ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) that knows the document, so its `$ref`s resolve. */
function documentAjv() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'openapi.json');
  return ajv;
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for an independent validator', async () => {
    // Act
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));

    // Assess
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('the validator is able to fail: it rejects a broken copy', async () => {
    // Prepare: an operation without responses, and a path parameter that is not required
    const broken = structuredClone(doc);
    delete broken.paths['/v1/recordings'].post.responses;
    broken.paths['/v1/recordings/{id}'].get.parameters[0].required = false;

    // Act
    const result = await new Validator().validate(broken);

    // Assess
    expect(result.valid).toBe(false);
  });

  it('is the shipped openapi.json (run `npm run openapi` after changing a schema or a route)', () => {
    // Act
    const shipped = readFileSync(join(ROOT, 'openapi.json'), 'utf8');

    // Assess
    expect(shipped, 'openapi.json is out of date: run `npm run openapi`').toBe(openApiJson(buildOpenApiDocument()));
  });

  it('is built the same way each time', () => {
    expect(openApiJson(buildOpenApiDocument())).toBe(openApiJson(buildOpenApiDocument()));
  });

  it('has every $ref resolving inside it, and every schema compiles as JSON Schema 2020-12', () => {
    // Act
    const dangling = refsOf(doc).filter(({ ref }) => resolvePointer(doc, ref) === undefined);
    const ajv = documentAjv();

    // Assess
    expect(dangling).toEqual([]);
    for (const name of Object.keys(doc.components.schemas)) {
      expect(() => ajv.getSchema(`openapi.json#/components/schemas/${name}`), name).not.toThrow();
    }
  });

  it('describes every route of functions/routes.ts, and nothing else', () => {
    // Act
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`));

    // Assess
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const operationIds = documented.map((key) => {
      const [method, path] = key.split(' ');
      return doc.paths[path!][method!.toLowerCase()].operationId;
    });
    expect(new Set(operationIds).size).toBe(ROUTES.length);
  });

  it('gives every operation credentials, its path parameters, error answers as problem+json, and every POST the Idempotency-Key header', () => {
    for (const route of ROUTES) {
      // Prepare
      const op = doc.paths[route.path][route.method.toLowerCase()];
      const params = op.parameters.map((p: any) => (p.$ref ? resolvePointer(doc, p.$ref) : p));
      const label = `${route.method} ${route.path}`;

      // Assess
      expect(op.security.length, label).toBeGreaterThan(0);
      for (const requirement of op.security) for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes[scheme], label).toBeDefined();
      for (const [, name] of route.path.matchAll(/\{(\w+)\}/g)) {
        expect(params.find((p: any) => p.in === 'path' && p.name === name), `${label}: {${name}}`).toMatchObject({ required: true });
      }
      const idempotencyKey = params.find((p: any) => p.in === 'header' && p.name === 'Idempotency-Key');
      if (route.method === 'POST') expect(idempotencyKey, label).toMatchObject({ required: false, schema: { maxLength: 255 } });
      else expect(idempotencyKey, label).toBeUndefined();
      const statuses = Object.keys(op.responses).map(Number);
      expect(statuses.filter((s) => s < 300), label).toHaveLength(1);
      for (const status of statuses.filter((s) => s >= 400)) {
        const schema = op.responses[String(status)].content['application/problem+json'].schema;
        expect(schema.allOf[0], label).toEqual({ $ref: '#/components/schemas/Problem' });
        expect(schema.allOf[1].properties.status, label).toEqual({ const: status });
        // each code is listed under its own status
        for (const code of schema.allOf[1].properties.code.enum) expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status, `${label}: ${code}`).toBe(status);
      }
      // every route can refuse a caller without credentials
      expect(op.responses['401'].content['application/problem+json'].schema.allOf[1].properties.code.enum, label).toContain('unauthorized');
    }
  });

  it("generates request schemas from the handlers' zod schemas (unknown fields rejected, bounds kept)", () => {
    // Prepare
    const ajv = documentAjv();
    const createBody = ajv.getSchema('openapi.json#/components/schemas/CreateRecordingRequest')!;
    const tokenBody = ajv.getSchema('openapi.json#/components/schemas/CreateTokenRequest')!;
    const listParams = doc.paths['/v1/recordings'].get.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name);

    // Assess
    expect(createBody({ meetingUrl: 'https://meet.example/a', meetingId: 'room-1', maxDurationSeconds: 60 })).toBe(true);
    expect(createBody({ meetingUrl: 'https://meet.example/a', colour: 'blue' })).toBe(false);
    expect(createBody({ meetingUrl: 'https://meet.example/a', maxDurationSeconds: 86_401 })).toBe(false);
    expect(createBody({ meetingUrl: 'https://meet.example/a', meetingId: 'has spaces' })).toBe(false);
    expect(createBody({})).toBe(false);
    expect(tokenBody({ meetingId: 'room-1', actions: ['start', 'read'] })).toBe(true);
    expect(tokenBody({ meetingId: 'room-1', actions: ['delete'] })).toBe(false);
    expect(listParams.sort()).toEqual(Object.keys(ListRecordingsQuery.shape).sort());
  });

  it('never rejects a body the handler would accept (zod accepts => the documented schema accepts)', () => {
    // Prepare: bodies near each schema (valid and invalid), checked by both
    const ajv = documentAjv();
    const near = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
    const meetingId = near(fc.stringMatching(/^[A-Za-z0-9._:-]{0,130}$/));
    const seconds = near(fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.double()));
    const cases = [
      {
        zod: CreateRecordingBody,
        json: ajv.getSchema('openapi.json#/components/schemas/CreateRecordingRequest')!,
        body: fc.record(
          { meetingUrl: near(fc.webUrl({ withQueryParameters: true, withFragments: true })), meetingId, maxDurationSeconds: seconds, colour: fc.string() },
          { requiredKeys: ['meetingUrl'] },
        ),
      },
      {
        zod: CreateTokenBody,
        json: ajv.getSchema('openapi.json#/components/schemas/CreateTokenRequest')!,
        body: fc.record(
          { meetingId, actions: near(fc.subarray(['start', 'stop', 'pause', 'resume', 'read', 'x'])), ttlSeconds: seconds, colour: fc.string() },
          { requiredKeys: ['meetingId', 'actions'] },
        ),
      },
    ];

    for (const { zod, json, body } of cases) {
      // Act + Assess
      let accepted = 0;
      fc.assert(
        fc.property(fc.oneof({ weight: 4, arbitrary: body.map(({ colour: _, ...rest }) => rest) }, { weight: 1, arbitrary: body }), (candidate) => {
          if (!zod.safeParse(candidate).success) return;
          accepted++;
          expect(json(candidate), JSON.stringify(json.errors)).toBe(true);
        }),
        { numRuns: 1000 },
      );
      expect(accepted, 'the generator must produce valid bodies').toBeGreaterThan(50);
    }
  });

  it('lists in its catalog every error code the code can answer with, under the same status', () => {
    // Prepare: every `super(status, 'code'`, `AppError(status, 'code'` and `problem(status, 'code'` in the service's code
    const files = ['functions', 'local'].flatMap((dir) =>
      (readdirSync(join(ROOT, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, dir, f)),
    );
    const thrown = new Map<string, { status: number; where: string }>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:super|AppError|problem)\(\s*(\d{3}),\s*'([a-z_]+)'/g)) {
        thrown.set(m[2]!, { status: Number(m[1]), where: relative(ROOT, file) });
      }
    }

    // Assess
    expect(thrown.size, 'the scan must find the codes').toBeGreaterThan(15);
    for (const [code, { status, where }] of thrown) {
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES], `${code} (${where}) is not in ERROR_CODES of functions/core/openapi.ts`).toBeDefined();
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status, `${code} (${where})`).toBe(status);
    }
  });

  it('documents for each route the codes its own rules answer with', () => {
    // A few that follow from the code: the meeting lock, the SSRF check, the cursor, the state conflicts
    const codes = (method: string, path: string) => errorCodesOf(ROUTES.find((r) => r.method === method && r.path === path)!);
    expect(codes('POST', '/v1/recordings')).toEqual(expect.arrayContaining(['recording_already_active', 'url_not_allowed', 'workflow_unavailable', 'idempotency_key_reused']));
    expect(codes('GET', '/v1/recordings')).toEqual(expect.arrayContaining(['invalid_cursor', 'validation_failed']));
    expect(codes('POST', '/v1/recordings/{id}/stop')).toEqual(expect.arrayContaining(['recording_not_active', 'stop_in_progress', 'recording_not_found']));
    expect(codes('DELETE', '/v1/recordings/{id}')).toEqual(expect.arrayContaining(['recording_active', 'insufficient_permissions']));
    expect(codes('GET', '/v1/recordings/{id}')).not.toContain('idempotency_key_reused');
  });

  it('refuses to describe a route it has no operation for', () => {
    expect(() => buildOpenApiDocument([...ROUTES, { method: 'GET', path: '/v1/new', handler: 'new-handler' }])).toThrow(/new-handler/);
  });
});

describe('the README', () => {
  it('lists every error code of the catalog with its HTTP status', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const rows = new Map([...readme.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => [m[2], Number(m[1])]));
    const missing = Object.entries(ERROR_CODES)
      .filter(([code, info]) => rows.get(code) !== info.status)
      .map(([code, info]) => `${info.status} ${code}`);
    expect(missing, 'add these rows to the error table in README.md').toEqual([]);
  });
});
