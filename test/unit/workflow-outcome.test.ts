import { describe, expect, it } from 'vitest';
import { errorFromFailure } from '../../functions/core/workflow-outcome.ts';
import { classifyNavigationError } from '../../recorder-image/src/browser-source.ts';
import { defaultMeetingId, newRecordingId } from '../../functions/core/recording-service.ts';
import { RECORDING_ID_PATTERN } from '../../functions/core/schemas.ts';

describe('workflow failures become coded recording errors', () => {
  it('keeps a recorder error code and its message', () => {
    expect(errorFromFailure({ Error: 'page_http_error', Cause: JSON.stringify({ message: 'HTTP 404' }) })).toEqual({ code: 'page_http_error', message: 'HTTP 404' });
  });
  it('maps a missed heartbeat to recorder_lost', () => {
    expect(errorFromFailure({ Error: 'States.HeartbeatTimeout', Cause: '' }).code).toBe('recorder_lost');
  });
  it('maps the task time limit and launch failures', () => {
    expect(errorFromFailure({ Error: 'States.Timeout' }).code).toBe('recorder_timeout');
    expect(errorFromFailure({ Error: 'ECS.AmazonECSException', Cause: 'No capacity' })).toEqual({ code: 'recorder_launch_failed', message: 'ECS.AmazonECSException: No capacity' });
  });
  it('never passes an unknown error name through as a code', () => {
    expect(errorFromFailure({ Error: 'Lambda.Unknown', Cause: 'boom' })).toEqual({ code: 'workflow_failed', message: 'Lambda.Unknown: boom' });
  });
});

describe('page load errors are tagged by cause', () => {
  it.each([
    ['page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:1/', 'page_connection_refused'],
    ['page.goto: net::ERR_NAME_NOT_RESOLVED at http://nope.invalid/', 'page_dns_failed'],
    ['page.goto: net::ERR_CERT_AUTHORITY_INVALID at https://x/', 'page_tls_error'],
    ['page.goto: Timeout 20000ms exceeded.', 'page_load_timeout'],
    ['page.goto: net::ERR_ABORTED', 'page_unreachable'],
  ])('%s -> %s', (message, code) => {
    expect(classifyNavigationError(message)).toBe(code);
  });
});

describe('identifiers', () => {
  it('recording ids match the id pattern and are valid execution names', () => {
    const ids = Array.from({ length: 200 }, newRecordingId);
    for (const id of ids) {
      expect(id).toMatch(RECORDING_ID_PATTERN);
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
  it('a default meeting id is stable per URL', () => {
    expect(defaultMeetingId('https://a/x')).toBe(defaultMeetingId('https://a/x'));
    expect(defaultMeetingId('https://a/x')).not.toBe(defaultMeetingId('https://a/y'));
  });
});
