/**
 * The HTTP API's routes, written once: the CDK API construct creates one Lambda and one route per entry,
 * the local server dispatches to the same handler modules, and the OpenAPI document describes them.
 */
export interface RouteDefinition {
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway v2 path syntax: `{name}` for a path parameter. */
  path: string;
  /** Module under functions/handlers/ (without extension); it exports `handler`. */
  handler: string;
}

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'POST', path: '/v1/recordings', handler: 'create-recording' },
  { method: 'GET', path: '/v1/recordings', handler: 'list-recordings' },
  { method: 'GET', path: '/v1/recordings/{id}', handler: 'get-recording' },
  { method: 'DELETE', path: '/v1/recordings/{id}', handler: 'delete-recording' },
  { method: 'POST', path: '/v1/recordings/{id}/stop', handler: 'stop-recording' },
  { method: 'POST', path: '/v1/recordings/{id}/pause', handler: 'pause-recording' },
  { method: 'POST', path: '/v1/recordings/{id}/resume', handler: 'resume-recording' },
  { method: 'GET', path: '/v1/recordings/{id}/download', handler: 'get-recording-download' },
  { method: 'GET', path: '/v1/meetings/{meetingId}/active-recording', handler: 'get-active-recording' },
  { method: 'POST', path: '/v1/tokens', handler: 'create-token' },
  { method: 'POST', path: '/v1/webhooks', handler: 'create-webhook' },
  { method: 'GET', path: '/v1/webhooks', handler: 'list-webhooks' },
  { method: 'DELETE', path: '/v1/webhooks/{webhookId}', handler: 'delete-webhook' },
  { method: 'GET', path: '/v1/webhooks/{webhookId}/deliveries', handler: 'list-webhook-deliveries' },
  { method: 'POST', path: '/v1/webhooks/{webhookId}/test', handler: 'test-webhook' },
  { method: 'GET', path: '/v1/openapi.json', handler: 'get-openapi' },
];

/** Workflow task handlers under functions/tasks/, invoked by the state machine. */
export const WORKFLOW_TASKS = {
  markUploaded: 'mark-uploaded',
  markErrored: 'mark-errored',
} as const;
