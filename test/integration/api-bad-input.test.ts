/**
 * The API over real HTTP on the local stack: the same handlers, routes and emulators as in production.
 * Bad input gets problem+json with a stable code and never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording } from '../../functions/core/recording.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: expect.stringContaining(code), title: expect.any(String), detail: expect.any(String) });
};

describe('POST /v1/recordings rejects bad input', () => {
  it('a missing meetingUrl: 400 naming the field', async () => {
    const res = await t.api.request('POST', '/v1/recordings', {});
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'meetingUrl' })]);
  });

  it.each([
    ['not a URL', 'meeting room 4'],
    ['a relative URL', '/meet/abc'],
    ['a non-http scheme', 'file:///etc/passwd'],
    ['javascript:', 'javascript:alert(1)'],
    ['a number', 42],
    ['a very long URL', `https://example.com/${'a'.repeat(5000)}`],
  ])('an invalid meetingUrl (%s): 400 naming the field', async (_label, meetingUrl) => {
    const res = await t.api.request('POST', '/v1/recordings', { meetingUrl });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].field).toBe('meetingUrl');
    expect(res.body.detail).toContain('meetingUrl');
  });

  it('an unknown field: 400 naming it', async () => {
    const res = await t.api.request('POST', '/v1/recordings', { meetingUrl: 'https://meet.example/a', colour: 'blue' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.detail).toContain('colour');
  });

  it('an invalid meetingId: 400 naming the field', async () => {
    const res = await t.api.request('POST', '/v1/recordings', { meetingUrl: 'https://meet.example/a', meetingId: 'has spaces/and slashes' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].field).toBe('meetingId');
  });

  it.each([
    ['malformed JSON', '{"meetingUrl": ', 'malformed_body'],
    ['an empty body', '', 'malformed_body'],
    ['a JSON array', '[1,2]', 'validation_failed'],
    ['JSON null', 'null', 'validation_failed'],
  ])('%s: 400', async (_label, raw, code) => {
    const res = await t.api.request('POST', '/v1/recordings', raw, { 'content-type': 'application/json' });
    expectProblem(res, 400, code);
  });

  it('a non-JSON content type: 415', async () => {
    const res = await t.api.request('POST', '/v1/recordings', 'meetingUrl=https://x', { 'content-type': 'application/x-www-form-urlencoded' });
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('an oversized body: 413, not a crash', async () => {
    const res = await t.api.request('POST', '/v1/recordings', JSON.stringify({ meetingUrl: 'https://x.example/', pad: 'x'.repeat(2 * 1024 * 1024) }));
    expectProblem(res, 413, 'payload_too_large');
  });
});

describe('unknown ids and routes', () => {
  it.each(['rec_000000000000000000000000', 'nope', 'x'.repeat(3000), '%F0%9F%92%A9', "rec_' OR 1=1"])('GET an unknown id (%s): 404', async (id) => {
    const res = await t.api.request('GET', `/v1/recordings/${encodeURIComponent(id).slice(0, 4000)}`);
    expectProblem(res, 404, 'recording_not_found');
  });

  it('stop and download of an unknown id: 404', async () => {
    expectProblem(await t.api.stop('rec_000000000000000000000000'), 404, 'recording_not_found');
    expectProblem(await t.api.download('rec_000000000000000000000000'), 404, 'recording_not_found');
  });

  it('an unknown route: 404 problem', async () => {
    expectProblem(await t.api.request('GET', '/v1/nothing-here'), 404, 'route_not_found');
    expectProblem(await t.api.request('DELETE', '/v1/recordings'), 404, 'route_not_found');
  });
});

describe('state conflicts', () => {
  const seed = async (status: 'INVOKED' | 'UPLOADED' | 'ERRORED' | 'UPLOADING') => {
    const r = { ...newRecording({ id: newRecordingId(), tenantId: t.stack.tenantId, meetingId: 'm', meetingUrl: 'https://meet.example/x', now: new Date().toISOString() }), status };
    await t.stack.repository.create(r);
    return r;
  };

  it.each(['INVOKED', 'UPLOADED', 'ERRORED'] as const)('stopping a %s recording: 409 recording_not_active', async (status) => {
    const r = await seed(status);
    const res = await t.api.stop(r.id);
    expectProblem(res, 409, 'recording_not_active');
    expect(res.body.recordingStatus).toBe(status);
  });

  it('stopping an UPLOADING recording: 409 stop_in_progress', async () => {
    const r = await seed('UPLOADING');
    expectProblem(await t.api.stop(r.id), 409, 'stop_in_progress');
  });

  it('downloading before the files exist: 409 recording_not_uploaded', async () => {
    const r = await seed('INVOKED');
    expectProblem(await t.api.download(r.id), 409, 'recording_not_uploaded');
  });
});
