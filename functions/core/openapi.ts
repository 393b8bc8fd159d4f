/**
 * The OpenAPI 3.1 document of the HTTP API, generated from what the service runs on: the route table
 * (functions/routes.ts) and the zod schemas the handlers validate with (schemas.ts, auth/token-schemas.ts).
 * Served at GET /v1/openapi.json and shipped as openapi.json (`npm run openapi` writes it).
 *
 * What is written here by hand is only what no schema holds: each operation's summary, which query and
 * body schema it takes, its success answer, and which problem `code`s it can answer. The error catalog
 * (ERROR_CODES) names every code the API answers with; each route's error responses list theirs as an enum.
 */
import * as z from 'zod';
import { ACTIONS, type Action } from './caller.ts';
import { CreateTokenBody, CreateTokenResponse } from './auth/token-schemas.ts';
import {
  CreateRecordingBody,
  DownloadQuery,
  DownloadSchema,
  ListRecordingsQuery,
  MeetingId,
  NoQuery,
  ProblemSchema,
  RECORDING_ID_PATTERN,
  RecordingListSchema,
  RecordingSchema,
} from './schemas.ts';
import { ROUTES, type RouteDefinition } from '../routes.ts';
import {
  CreatedWebhookSchema,
  CreateWebhookBody,
  DeliveryListSchema,
  DeliverySchema,
  ListDeliveriesQuery,
  WEBHOOK_ID_PATTERN,
  WebhookListSchema,
  WebhookSchema,
} from './webhooks/webhook-schemas.ts';

export const OPENAPI_VERSION = '3.1.1';
/** The version of the API contract (the paths carry its major version). */
export const API_VERSION = '1.0.0';

type JsonSchema = Record<string, unknown>;
type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------
// The error catalog

export interface ErrorCodeInfo {
  status: number;
  meaning: string;
}

/** Every problem `code` the API answers with, its HTTP status, and what it means. */
export const ERROR_CODES = {
  validation_failed: { status: 400, meaning: 'The body, query string or a path parameter failed validation; `errors: [{ field, message }]` names each field (unknown fields too).' },
  malformed_body: { status: 400, meaning: 'The body is empty or not JSON.' },
  invalid_idempotency_key: { status: 400, meaning: 'The Idempotency-Key header is not 1 to 255 visible ASCII characters.' },
  invalid_cursor: { status: 400, meaning: 'The cursor was not issued by this API for this query.' },
  malformed_request: { status: 400, meaning: 'Local mode: the request is not valid HTTP/1.1 (e.g. bytes a URL or header may not contain).' },
  unauthorized: { status: 401, meaning: 'No credentials, or an unknown, revoked or malformed API key, or a tampered token.' },
  token_expired: { status: 401, meaning: 'The scoped token has expired; mint a new one.' },
  insufficient_permissions: {
    status: 403,
    meaning: 'The credentials do not allow this: a scoped token without the needed action (`requiredAction`), a token for another meeting on a start or a listing, or a token where only an API key may act.',
  },
  recording_not_found: { status: 404, meaning: "No such recording (another tenant's, or another meeting's for a scoped token, is not found either)." },
  no_active_recording: { status: 404, meaning: 'The meeting has no live recording.' },
  route_not_found: { status: 404, meaning: 'No such route (this includes a path parameter with malformed percent-encoding).' },
  recording_already_active: { status: 409, meaning: 'The meeting already has a live recording; `activeRecordingId` names it.' },
  recording_not_active: { status: 409, meaning: 'The recording is not in a state that allows this; `recordingStatus` says what it is.' },
  stop_in_progress: { status: 409, meaning: 'The recording is already stopping (a second stop is answered 409, not an idempotent 202).' },
  recording_already_paused: { status: 409, meaning: 'The recording is already paused or pausing.' },
  recording_not_paused: { status: 409, meaning: 'Only a paused recording can be resumed.' },
  recording_active: { status: 409, meaning: 'A live recording cannot be deleted; stop it and wait until it has ended.' },
  recording_not_uploaded: { status: 409, meaning: 'The files can be downloaded once the recording is UPLOADED (or ERRORED with partial files).' },
  idempotency_in_progress: { status: 409, meaning: 'A request with this Idempotency-Key is still being processed; retry shortly to get its answer.' },
  request_timeout: { status: 408, meaning: 'Local mode: the request did not arrive in time.' },
  webhook_not_found: { status: 404, meaning: "No such webhook subscription (another tenant's is not found either)." },
  webhook_limit_reached: { status: 409, meaning: 'The tenant has the most webhook subscriptions it may have (25); delete one first.' },
  webhook_disabled: { status: 409, meaning: 'The webhook subscription was disabled after its deliveries failed for 3 days; create a new one.' },
  recording_expired: { status: 410, meaning: 'The files have passed their retention period and were deleted.' },
  payload_too_large: { status: 413, meaning: 'The body is over 1 MiB.' },
  unsupported_media_type: { status: 415, meaning: 'The body is not JSON (Content-Type must be application/json or application/*+json).' },
  url_not_allowed: { status: 422, meaning: 'The SSRF policy forbids the URL: not http(s), or its host resolves to a loopback, private, link-local, multicast or reserved address.' },
  idempotency_key_reused: { status: 422, meaning: 'This Idempotency-Key was already used with a different request.' },
  concurrency_limit_reached: {
    status: 429,
    meaning: 'The service already runs its most live recordings at once (all tenants together; `limit` says how many); start again once one has ended.',
  },
  request_header_too_large: { status: 431, meaning: 'Local mode: the request line and headers exceed 16 KiB.' },
  internal_error: { status: 500, meaning: 'An unexpected error; nothing about it is revealed.' },
  workflow_unavailable: { status: 503, meaning: 'The recording workflow could not be started; the recording is marked ERRORED (`workflow_start_failed`).' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

// ---------------------------------------------------------------------------------------------------------
// Operations

interface PathParameter {
  schema: z.ZodType;
  description: string;
}

interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'Recordings' | 'Meetings' | 'Tokens' | 'Webhooks' | 'Meta';
  /** The query schema the handler parses (every route parses one, so unknown parameters are rejected). */
  query?: z.ZodObject;
  queryDescriptions?: Record<string, string>;
  body?: { schema: z.ZodType; component: string };
  /** A POST that takes no body: absent, empty or `{}`. */
  noBody?: boolean;
  success: { status: number; description: string; schema?: z.ZodType | JsonSchema; headers?: Record<string, JsonObject> };
  /** Codes this route answers beyond those every route (or every POST) can. */
  errors: ErrorCode[];
  /** The scoped-token action this route needs; `any`: any token; `none`: API keys only. */
  tokenAction: Action | 'any' | 'none';
}

const RECORDING_ID_PARAM: PathParameter = {
  schema: z.string().regex(RECORDING_ID_PATTERN),
  description: 'A recording id (`rec_` and 24 lower-case letters or digits). Any other value is answered 404 `recording_not_found`.',
};
const MEETING_ID_PARAM: PathParameter = { schema: MeetingId, description: 'The meeting id given when the recording was started (or derived from its URL).' };
const WEBHOOK_ID_PARAM: PathParameter = {
  schema: z.string().regex(WEBHOOK_ID_PATTERN),
  description: 'A webhook subscription id (`wh_` and 24 lower-case letters or digits). Any other value is answered 404 `webhook_not_found`.',
};
const LIVE_RECORDING = 'The recording as it is now (`status` changes once the recorder has acted on the request).';

/** One entry per handler module in ROUTES; a route without one makes `buildOpenApiDocument` throw. */
const OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'create-recording': {
    operationId: 'createRecording',
    tag: 'Recordings',
    summary: 'Start a recording',
    description:
      'Accepts a recording (`status: INVOKED`) and starts its workflow: a recorder joins `meetingUrl` and records it. ' +
      'At most one live recording per `meetingId` and tenant. Without `meetingId`, recordings of the same URL share one derived from the URL ' +
      "(a scoped token's own meeting, for a token). The service runs at most a configured number of live recordings at once " +
      '(all tenants together); beyond it a start is refused with 429 `concurrency_limit_reached`.',
    body: { schema: CreateRecordingBody, component: 'CreateRecordingRequest' },
    success: {
      status: 201,
      description: 'The recording, accepted.',
      schema: RecordingSchema,
      headers: { Location: { description: 'The recording: `/v1/recordings/{id}`.', schema: { type: 'string' } } },
    },
    errors: [
      'validation_failed',
      'malformed_body',
      'unsupported_media_type',
      'insufficient_permissions',
      'recording_already_active',
      'url_not_allowed',
      'concurrency_limit_reached',
      'workflow_unavailable',
    ],
    tokenAction: 'start',
  },
  'list-recordings': {
    operationId: 'listRecordings',
    tag: 'Recordings',
    summary: 'List recordings',
    description: "The tenant's recordings, newest first, filtered and paged with an opaque cursor (a scoped token sees only its meeting's).",
    query: ListRecordingsQuery,
    queryDescriptions: {
      meetingId: "Only this meeting's recordings.",
      status: 'Only recordings with this status.',
      createdFrom: 'Created at or after (ISO 8601 date or date-time).',
      createdTo: 'Created before (ISO 8601 date or date-time).',
      limit: 'Page size, 1 to 100 (default 20).',
      cursor: '`nextCursor` of the previous page, with the same filters.',
    },
    success: { status: 200, description: 'A page of recordings; `nextCursor` is present when there may be more.', schema: RecordingListSchema },
    errors: ['validation_failed', 'invalid_cursor', 'insufficient_permissions'],
    tokenAction: 'read',
  },
  'get-recording': {
    operationId: 'getRecording',
    tag: 'Recordings',
    summary: 'Get a recording',
    description: 'The recording and its status; once `UPLOADED`, its `files`.',
    query: NoQuery,
    success: { status: 200, description: 'The recording.', schema: RecordingSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found'],
    tokenAction: 'read',
  },
  'delete-recording': {
    operationId: 'deleteRecording',
    tag: 'Recordings',
    summary: 'Delete a recording',
    description: 'Removes an ended recording (`UPLOADED` or `ERRORED`): its files, then its record. Needs an API key.',
    query: NoQuery,
    success: { status: 204, description: 'Deleted.' },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found', 'recording_active'],
    tokenAction: 'none',
  },
  'stop-recording': {
    operationId: 'stopRecording',
    tag: 'Recordings',
    summary: 'Stop a recording',
    description: 'Asks the recorder to stop (from `RECORDING` or `PAUSED`); the recording then goes `UPLOADING` and `UPLOADED`.',
    noBody: true,
    success: { status: 202, description: LIVE_RECORDING, schema: RecordingSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found', 'recording_not_active', 'stop_in_progress'],
    tokenAction: 'stop',
  },
  'pause-recording': {
    operationId: 'pauseRecording',
    tag: 'Recordings',
    summary: 'Pause a recording',
    description: 'Asks the recorder to stop capturing until resumed (from `RECORDING`); the recording then goes `PAUSED`. The file leaves out the paused span.',
    noBody: true,
    success: { status: 202, description: LIVE_RECORDING, schema: RecordingSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found', 'recording_already_paused', 'stop_in_progress', 'recording_not_active'],
    tokenAction: 'pause',
  },
  'resume-recording': {
    operationId: 'resumeRecording',
    tag: 'Recordings',
    summary: 'Resume a paused recording',
    description: 'Asks the recorder to capture again; the recording then goes `RECORDING`.',
    noBody: true,
    success: { status: 202, description: LIVE_RECORDING, schema: RecordingSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found', 'recording_not_paused', 'stop_in_progress', 'recording_not_active'],
    tokenAction: 'resume',
  },
  'get-recording-download': {
    operationId: 'getRecordingDownload',
    tag: 'Recordings',
    summary: 'Download links',
    description: "A presigned, expiring GET URL for each file. The URLs never outlive the files' retention.",
    query: DownloadQuery,
    queryDescriptions: { expiresIn: 'Lifetime of the URLs in seconds, 1 to 604800 (7 days); default 3600.' },
    success: { status: 200, description: 'One presigned URL per file.', schema: DownloadSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'recording_not_found', 'recording_not_uploaded', 'recording_expired'],
    tokenAction: 'read',
  },
  'get-active-recording': {
    operationId: 'getActiveRecording',
    tag: 'Meetings',
    summary: "A meeting's live recording",
    description: 'The live recording (`INVOKED`, `RECORDING`, `PAUSED` or `UPLOADING`) of a meeting, or 404.',
    query: NoQuery,
    success: { status: 200, description: 'The live recording.', schema: RecordingSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'no_active_recording'],
    tokenAction: 'read',
  },
  'create-token': {
    operationId: 'createToken',
    tag: 'Tokens',
    summary: 'Mint a scoped token',
    description:
      "A short-lived token (a JWT signed with the tenant's secret) for one meeting and a set of actions, e.g. for a moderator's browser. " +
      'Only an API key may mint; a token cannot.',
    body: { schema: CreateTokenBody, component: 'CreateTokenRequest' },
    success: {
      status: 201,
      description: 'The token (shown once).',
      schema: CreateTokenResponse,
      headers: { 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } },
    },
    errors: ['validation_failed', 'malformed_body', 'unsupported_media_type', 'insufficient_permissions'],
    tokenAction: 'none',
  },
  'create-webhook': {
    operationId: 'createWebhook',
    tag: 'Webhooks',
    summary: 'Subscribe to status events',
    description:
      'Status events of the chosen statuses are POSTed to `url`, signed per the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`, `webhook-signature`), ' +
      'event type `recording.statusUpdate`, and retried with backoff for at least 24 h. The URL passes the same SSRF checks as meeting URLs. ' +
      'The signing secret is in this answer only (the answer is not remembered for Idempotency-Key replays). Needs an API key.',
    body: { schema: CreateWebhookBody, component: 'CreateWebhookRequest' },
    success: {
      status: 201,
      description: 'The subscription, with its signing secret (shown once).',
      schema: CreatedWebhookSchema,
      headers: { Location: { description: 'The subscription.', schema: { type: 'string' } }, 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } },
    },
    errors: ['validation_failed', 'malformed_body', 'unsupported_media_type', 'insufficient_permissions', 'url_not_allowed', 'webhook_limit_reached'],
    tokenAction: 'none',
  },
  'list-webhooks': {
    operationId: 'listWebhooks',
    tag: 'Webhooks',
    summary: 'List webhook subscriptions',
    description: "The tenant's subscriptions, oldest first, with their status (`disabled` after 3 days of failed deliveries). Never their secrets. Needs an API key.",
    query: NoQuery,
    success: { status: 200, description: 'The subscriptions.', schema: WebhookListSchema },
    errors: ['validation_failed', 'insufficient_permissions'],
    tokenAction: 'none',
  },
  'delete-webhook': {
    operationId: 'deleteWebhook',
    tag: 'Webhooks',
    summary: 'Delete a webhook subscription',
    description: 'Removes the subscription; its pending deliveries are cancelled. Needs an API key.',
    query: NoQuery,
    success: { status: 204, description: 'Deleted.' },
    errors: ['validation_failed', 'insufficient_permissions', 'webhook_not_found'],
    tokenAction: 'none',
  },
  'list-webhook-deliveries': {
    operationId: 'listWebhookDeliveries',
    tag: 'Webhooks',
    summary: "A subscription's deliveries",
    description: 'Each delivery, newest first: the event, its state, every attempt (time, HTTP status, latency, error) and the next retry. Needs an API key.',
    query: ListDeliveriesQuery,
    queryDescriptions: { limit: 'At most this many deliveries, 1 to 100; default 20.' },
    success: { status: 200, description: 'The latest deliveries.', schema: DeliveryListSchema },
    errors: ['validation_failed', 'insufficient_permissions', 'webhook_not_found'],
    tokenAction: 'none',
  },
  'test-webhook': {
    operationId: 'testWebhook',
    tag: 'Webhooks',
    summary: 'Send a test event',
    description: 'Sends a signed `webhook.test` event to the subscription, delivered and retried like any other. Needs an API key.',
    noBody: true,
    success: { status: 202, description: 'The test delivery (follow it in the deliveries).', schema: DeliverySchema },
    errors: ['validation_failed', 'insufficient_permissions', 'webhook_not_found', 'webhook_disabled'],
    tokenAction: 'none',
  },
  'get-openapi': {
    operationId: 'getOpenApi',
    tag: 'Meta',
    summary: 'This document',
    description: 'The OpenAPI 3.1 document of this API (also shipped as openapi.json in the repository).',
    query: NoQuery,
    success: { status: 200, description: 'The OpenAPI document.', schema: { type: 'object', description: 'An OpenAPI 3.1 document.' } },
    errors: ['validation_failed'],
    tokenAction: 'any',
  },
};

/** Codes every route can answer: from authentication, the HTTP server's limits, and bugs. */
const EVERY_ROUTE: ErrorCode[] = ['malformed_request', 'unauthorized', 'token_expired', 'request_timeout', 'payload_too_large', 'request_header_too_large', 'internal_error'];
/** Codes every POST can answer: from the idempotency middleware. */
const EVERY_POST: ErrorCode[] = ['invalid_idempotency_key', 'idempotency_in_progress', 'idempotency_key_reused'];
/** A path parameter that is not valid percent-encoding matches no route. */
const WITH_PATH_PARAMETERS: ErrorCode[] = ['route_not_found'];

const pathParameterNames = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);

/** Every problem code `route` can answer, in catalog order. */
export function errorCodesOf(route: RouteDefinition): ErrorCode[] {
  const spec = operationSpec(route);
  const codes = new Set<ErrorCode>([
    ...EVERY_ROUTE,
    ...(route.method === 'POST' ? EVERY_POST : []),
    ...(pathParameterNames(route.path).length ? WITH_PATH_PARAMETERS : []),
    ...spec.errors,
  ]);
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => codes.has(code));
}

function operationSpec(route: RouteDefinition): OperationSpec {
  const spec = OPERATIONS[route.handler];
  if (!spec) throw new Error(`No OpenAPI operation in functions/core/openapi.ts for handler '${route.handler}' (${route.method} ${route.path})`);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------
// Schemas

/** zod's integer bounds when none were set (±2^53-1) say nothing to a reader: dropped. */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === '$id') continue;
    if ((key === 'minimum' && value === Number.MIN_SAFE_INTEGER) || (key === 'maximum' && value === Number.MAX_SAFE_INTEGER)) continue;
    out[key] = tidy(value);
  }
  return out;
}

const COMPONENT_REF = (id: string) => `#/components/schemas/${id}`;

/** JSON Schema (2020-12, OpenAPI 3.1's dialect) of named schemas, with references between them. */
function componentSchemas(named: [z.ZodType, string][], io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of named) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', io, uri: COMPONENT_REF, unrepresentable: 'throw' });
  return tidy(schemas) as Record<string, JsonSchema>;
}

function inlineSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return tidy(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' })) as JsonSchema;
}

/** Response schemas that are components, by zod schema; their names are their `.meta({ id })` where set. */
const RESPONSE_COMPONENTS: [z.ZodType, string][] = [
  [RecordingSchema, 'Recording'],
  [RecordingListSchema, 'RecordingList'],
  [DownloadSchema, 'Download'],
  [CreateTokenResponse, 'Token'],
  [WebhookSchema, 'Webhook'],
  [CreatedWebhookSchema, 'CreatedWebhook'],
  [WebhookListSchema, 'WebhookList'],
  [DeliverySchema, 'WebhookDelivery'],
  [DeliveryListSchema, 'WebhookDeliveryList'],
  [ProblemSchema, 'Problem'],
];

// ---------------------------------------------------------------------------------------------------------
// The document

function parameters(route: RouteDefinition, spec: OperationSpec): JsonObject[] {
  const params: JsonObject[] = [];
  for (const name of pathParameterNames(route.path)) {
    const p = name === 'id' ? RECORDING_ID_PARAM : name === 'meetingId' ? MEETING_ID_PARAM : name === 'webhookId' ? WEBHOOK_ID_PARAM : undefined;
    if (!p) throw new Error(`No schema for path parameter '${name}' of ${route.method} ${route.path}`);
    params.push({ name, in: 'path', required: true, description: p.description, schema: inlineSchema(p.schema, 'input') });
  }
  if (spec.query) {
    const query = inlineSchema(spec.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      params.push({
        name,
        in: 'query',
        required: query.required?.includes(name) ?? false,
        ...(spec.queryDescriptions?.[name] && { description: spec.queryDescriptions[name] }),
        schema,
      });
    }
  }
  if (route.method === 'POST') params.push({ $ref: '#/components/parameters/IdempotencyKey' });
  return params;
}

function problemResponse(status: number, codes: ErrorCode[]): JsonObject {
  return {
    description: `${STATUS_TEXT[status] ?? 'Error'}: ${codes.map((code) => `\`${code}\``).join(', ')} (see the error codes in the API's description).`,
    content: {
      'application/problem+json': {
        schema: {
          allOf: [
            { $ref: COMPONENT_REF('Problem') },
            { type: 'object', properties: { status: { const: status }, code: { enum: codes } } },
          ],
        },
      },
    },
  };
}

function security(spec: OperationSpec): JsonObject[] {
  const apiKey = [{ ApiKey: [] }, { ApiKeyHeader: [] }];
  return spec.tokenAction === 'none' ? apiKey : [...apiKey, { ScopedToken: [] }];
}

function tokenNote(spec: OperationSpec): string {
  if (spec.tokenAction === 'none') return 'Needs an API key; a scoped token is refused (403 `insufficient_permissions`).';
  if (spec.tokenAction === 'any') return 'Any credentials: an API key or a scoped token.';
  return `An API key, or a scoped token for the recording's meeting with the \`${spec.tokenAction}\` action.`;
}

function operation(route: RouteDefinition, responseRef: (schema: z.ZodType) => JsonSchema): JsonObject {
  const spec = operationSpec(route);
  const successSchema = spec.success.schema;
  const successHeaders = {
    ...spec.success.headers,
    ...(route.method === 'POST' && { 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } }),
  };
  const responses: JsonObject = {
    [String(spec.success.status)]: {
      description: spec.success.description,
      ...(Object.keys(successHeaders).length && { headers: successHeaders }),
      ...(successSchema && {
        content: { 'application/json': { schema: successSchema instanceof z.ZodType ? responseRef(successSchema) : successSchema } },
      }),
    },
  };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(route)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) responses[String(status)] = problemResponse(status, byStatus.get(status)!);

  let requestBody: JsonObject | undefined;
  if (spec.body) {
    requestBody = { required: true, content: { 'application/json': { schema: { $ref: COMPONENT_REF(spec.body.component) } } } };
  } else if (spec.noBody) {
    requestBody = {
      required: false,
      description: 'None: send no body, an empty one, or `{}`.',
      content: { 'application/json': { schema: { type: 'object', additionalProperties: false, maxProperties: 0 } } },
    };
  }
  return {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    description: [spec.description, tokenNote(spec)].filter(Boolean).join('\n\n'),
    security: security(spec),
    parameters: parameters(route, spec),
    ...(requestBody && { requestBody }),
    responses,
  };
}

/** Builds the document from ROUTES (or the given routes). Deterministic: the same code gives the same JSON. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[] = ROUTES): JsonObject {
  const responseComponents = componentSchemas(RESPONSE_COMPONENTS, 'output');
  const requestComponents = componentSchemas(
    routes.flatMap((route) => {
      const body = operationSpec(route).body;
      return body ? [[body.schema, body.component] as [z.ZodType, string]] : [];
    }),
    'input',
  );
  const responseNames = new Map(RESPONSE_COMPONENTS);
  const responseRef = (schema: z.ZodType): JsonSchema => {
    const name = responseNames.get(schema);
    return name ? { $ref: COMPONENT_REF(name) } : inlineSchema(schema, 'output');
  };

  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    item[route.method.toLowerCase()] = operation(route, responseRef);
  }

  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'Meeting recorder API',
      version: API_VERSION,
      summary: 'Record web meetings to MP4 in your own AWS account.',
      description:
        'Every answer that is not 2xx is RFC 9457 `application/problem+json` with a stable `code`; match on the code. ' +
        '(On AWS, requests that API Gateway itself refuses before they reach the service, such as throttled ones (429) or ones over its size limits, get its own answer.) ' +
        'Every route needs credentials: `Authorization: Bearer <API key or scoped token>` (or `x-api-key: <API key>`). ' +
        'Every POST takes an optional `Idempotency-Key`: a retry with the same key gets the first answer again, and nothing is done twice.\n\n' +
        errorCodeTable(),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      { url: 'http://127.0.0.1:8080', description: 'Local mode (`npm start`)' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'A deployed stack (its `ApiUrl` output)',
        variables: { apiId: { default: 'abcdef1234' }, region: { default: 'us-east-1' } },
      },
    ],
    tags: [
      { name: 'Recordings', description: 'Start, control, list, download and delete recordings.' },
      { name: 'Meetings', description: 'Recordings by meeting.' },
      { name: 'Tokens', description: "Scoped tokens for a moderator's browser." },
      { name: 'Webhooks', description: 'Signed webhooks for status events (Standard Webhooks).' },
      { name: 'Meta', description: 'About the API itself.' },
    ],
    security: [{ ApiKey: [] }, { ApiKeyHeader: [] }, { ScopedToken: [] }],
    paths,
    components: {
      schemas: { ...requestComponents, ...responseComponents },
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Makes a retry safe: a request with a key already answered (2xx) gets that answer again, marked `Idempotent-Replayed: true`; ' +
            'the same key with a different request gets 422 `idempotency_key_reused`. Keys are per tenant and remembered for 24 h.',
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
        },
      },
      headers: {
        IdempotentReplayed: { description: '`true` when this is the stored answer to an earlier request with the same Idempotency-Key.', schema: { type: 'string', enum: ['true'] } },
      },
      securitySchemes: {
        ApiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'API key (mr_{keyId}_{secret})',
          description: "A tenant's API key, sent as `Authorization: Bearer mr_...`. Created, listed and revoked with `npm run api-keys`.",
        },
        ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same API key in the `x-api-key` header.' },
        ScopedToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: `A scoped token from POST /v1/tokens: one meeting, some of the actions ${ACTIONS.map((a) => `\`${a}\``).join(', ')}, at most 24 h.`,
        },
      },
    },
  };
}

function errorCodeTable(): string {
  const rows = (Object.entries(ERROR_CODES) as [ErrorCode, ErrorCodeInfo][]).map(([code, info]) => `| ${info.status} | \`${code}\` | ${info.meaning} |`);
  return ['Error codes:', '', '| status | `code` | meaning |', '|---|---|---|', ...rows].join('\n');
}

let cached: JsonObject | undefined;
/** The document for this code, built once per container. */
export function openApiDocument(): JsonObject {
  return (cached ??= buildOpenApiDocument());
}

/** The shipped file's text: the document as JSON with two-space indentation and a final newline. */
export function openApiJson(document: JsonObject = openApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
