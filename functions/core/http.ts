/**
 * HTTP plumbing for the API handlers: a middy wrapper whose error middleware turns every failure into
 * RFC 9457 problem+json, and body parsing that names the offending field.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { AppError, MalformedBodyError, UnsupportedMediaTypeError, ValidationError } from './errors.ts';
import { authenticate } from './auth/middleware.ts';
import { callerFrom } from './caller.ts';
import { idempotency } from './idempotency.ts';
import { logger, observed, tracer } from './observability.ts';
import { idempotencyStore } from './runtime.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = { statusCode: number; headers: Record<string, string>; body: string };
export type HttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function problem(
  status: number,
  code: string,
  title: string,
  detail: string,
  instance?: string,
  extensions: Record<string, unknown> = {},
): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    // Extensions first: they can never overwrite the RFC 9457 members.
    body: JSON.stringify({ ...extensions, type: `urn:meeting-recorder:problem:${code}`, title, status, detail, code, instance }),
  };
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
export const titleFor = (status: number) => TITLES[status] ?? 'Error';

export interface ProblemJsonOptions {
  /** Where unexpected errors are reported; they are answered with a generic 500. */
  logError?: (err: unknown, event: HttpEvent) => void;
}

/** Maps AppError subclasses to their status and code; anything else is a 500 that reveals nothing. */
export function problemJson(options: ProblemJsonOptions = {}): MiddlewareObj<HttpEvent, HttpResult> {
  const logError =
    options.logError ??
    ((err, event) => {
      logger.error('unhandled error', { route: event.routeKey, error: err as Error });
      // The answer is a 500, not a thrown error, so the handler's subsegment is flagged here.
      tracer.addErrorAsMetadata(err as Error);
    });
  return {
    name: 'problemJson',
    onError: (request) => {
      const err = request.error;
      const instance = request.event?.rawPath;
      if (err instanceof AppError) {
        request.response = problem(err.status, err.code, titleFor(err.status), err.message, instance, err.extensions);
        return;
      }
      logError(err, request.event);
      request.response = problem(500, 'internal_error', titleFor(500), 'An unexpected error occurred.', instance);
    },
  };
}

/**
 * Appends the request's correlation keys to the Logger once the caller is known: the tenant, the
 * principal (`apiKey:{keyId}` or `token:{jti}`, never a secret) and the path's recording, meeting or webhook
 * id. observed() clears them after the invocation.
 */
export function logKeys(): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    name: 'logKeys',
    before: (request) => {
      const { tenantId, principal } = callerFrom(request.event);
      const { id, meetingId, webhookId } = request.event.pathParameters ?? {};
      logger.appendKeys({ tenantId, principal, route: request.event.routeKey, ...(id && { recordingId: id }), ...(meetingId && { meetingId }), ...(webhookId && { webhookId }) });
    },
  };
}

/** Wraps an API handler with the house middleware stack, inside the Powertools middlewares (observed). */
export function httpHandler(fn: HttpHandler, options: ProblemJsonOptions = {}) {
  // problemJson first, so it is outermost: authentication failures become problem+json too.
  // Idempotency after authentication: keys are scoped to the caller's tenant.
  return observed(
    middy<HttpEvent, HttpResult>().use(problemJson(options)).use(authenticate()).use(logKeys()).use(idempotency(idempotencyStore)).handler(fn),
  );
}

/** Parses and validates a JSON body; errors name the field and say what is wrong. */
export function parseJsonBody<S extends z.ZodType>(event: HttpEvent, schema: S): z.infer<S> {
  const contentType = event.headers?.['content-type'] ?? '';
  if (event.body && contentType && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError();
  }
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (raw.trim() === '') throw new MalformedBodyError('The request body is empty; a JSON object is required.');
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new MalformedBodyError('The request body is not valid JSON.');
  }
  return validate(schema, data, 'request body');
}

/** Validates data against a schema; errors name each field and say what is wrong. */
export function validate<S extends z.ZodType>(schema: S, data: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const field = [...issue.path, ...(keys.length === 1 ? keys : [])].join('.') || (keys.length ? keys.join(',') : '(body)');
      return { field, message: issue.message };
    });
    throw new ValidationError(`Invalid ${what}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, issues);
  }
  return result.data;
}

/** Parses and validates the query string (unknown parameters are rejected, as unknown body fields are). */
export function parseQuery<S extends z.ZodType>(event: HttpEvent, schema: S): z.infer<S> {
  return validate(schema, { ...event.queryStringParameters }, 'query string');
}

/** For routes that take no body: an absent, empty or `{}` body is fine; anything else is rejected. */
export function expectNoBody(event: HttpEvent): void {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (raw.trim() === '' || /^\s*\{\s*\}\s*$/.test(raw)) return;
  throw new ValidationError('This route takes no request body.', [{ field: '(body)', message: 'must be empty' }]);
}

export function pathParam(event: HttpEvent, name: string): string {
  return event.pathParameters?.[name] ?? '';
}
