/** Checks real answers of the API against the OpenAPI document (JSON Schema 2020-12 with Ajv). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

export const SHIPPED_OPENAPI_PATH = resolve(import.meta.dirname, '..', '..', 'openapi.json');

export function shippedOpenApi(): any {
  return JSON.parse(readFileSync(SHIPPED_OPENAPI_PATH, 'utf8'));
}

const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

export interface AnswerCheck {
  /** Why the answer does not match the document; undefined when it does. */
  problem?: string;
}

export class OpenApiChecker {
  readonly doc: any;
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(doc: any = shippedOpenApi()) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    this.ajv.addSchema(doc, 'openapi.json');
  }

  /** The documented response of a route (`path` in the document's `{param}` form) for a status, if any. */
  response(method: string, path: string, status: number): any {
    return this.doc.paths[path]?.[method.toLowerCase()]?.responses?.[String(status)];
  }

  /** The problem codes documented for a route and status. */
  problemCodes(method: string, path: string, status: number): string[] {
    const schema = this.response(method, path, status)?.content?.['application/problem+json']?.schema;
    return schema?.allOf?.[1]?.properties?.code?.enum ?? [];
  }

  /**
   * Checks an answer against the document: its status is documented for the route, its media type is the
   * documented one, and its body matches the documented schema. Returns why not, or undefined.
   */
  check(method: string, path: string, answer: { status: number; contentType: string | null | undefined; body: unknown }): string | undefined {
    const response = this.response(method, path, answer.status);
    if (!response) return `status ${answer.status} is not documented for ${method} ${path}`;
    const media = Object.keys(response.content ?? {});
    if (media.length === 0) return answer.body === undefined || answer.body === '' ? undefined : `${answer.status} is documented without a body`;
    const type = (answer.contentType ?? '').split(';')[0]!.trim();
    if (!media.includes(type)) return `content-type '${answer.contentType}' is not the documented ${media.join(' or ')}`;
    const key = `${method} ${path} ${answer.status} ${type}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.getSchema(`openapi.json#/${pointer('paths', path, method.toLowerCase(), 'responses', String(answer.status), 'content', type, 'schema')}`);
      if (!validate) return `no schema for ${key}`;
      this.validators.set(key, validate);
    }
    if (!validate(answer.body)) return `body does not match the documented schema: ${this.ajv.errorsText(validate.errors)}`;
    return undefined;
  }
}
