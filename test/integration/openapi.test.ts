/**
 * GET /v1/openapi.json over real HTTP on the local stack serves the shipped document, behind credentials;
 * and real answers of the API (success and problem) match what the document says about them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../../local/api-client.ts';
import { OpenApiChecker, shippedOpenApi } from '../support/openapi.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let t: TestStack;
const checker = new OpenApiChecker();
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

const expectDocumented = (method: string, path: string, res: ApiResponse) =>
  expect(checker.check(method, path, { status: res.status, contentType: res.headers.get('content-type'), body: res.body }), JSON.stringify(res.body)).toBeUndefined();

describe('GET /v1/openapi.json', () => {
  it('serves the shipped openapi.json', async () => {
    // Act
    const res = await t.api.request('GET', '/v1/openapi.json');

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toEqual(shippedOpenApi());
    expect(res.body.openapi).toMatch(/^3\.1\./);
  });

  it('needs credentials like every route', async () => {
    // Act
    const anonymous = await t.api.withCredential(undefined).request('GET', '/v1/openapi.json');
    const wrongKey = await t.api.withCredential(`mr_0000000000000000_${'A'.repeat(43)}`).request('GET', '/v1/openapi.json');

    // Assess
    for (const res of [anonymous, wrongKey]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
      expectDocumented('GET', '/v1/openapi.json', res);
    }
  });

  it('is readable with a scoped token too', async () => {
    // Prepare
    const minted = await t.api.request('POST', '/v1/tokens', { meetingId: 'room-1', actions: ['read'] });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);

    // Act
    const res = await t.api.withCredential(minted.body.token).request('GET', '/v1/openapi.json');

    // Assess
    expect(res.status).toBe(200);
    expect(res.body).toEqual(shippedOpenApi());
  });

  it('rejects query parameters: 400 validation_failed', async () => {
    // Act
    const res = await t.api.request('GET', '/v1/openapi.json?format=yaml');

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed' });
    expectDocumented('GET', '/v1/openapi.json', res);
  });
});

describe('real answers match the document', () => {
  it('recordings, lists, downloads, tokens and deletes', async () => {
    // Prepare: an UPLOADED recording with a file, and a live one holding its meeting's lock
    const uploaded = await seedRecording(t.stack.repository, t.stack.tenantId, {
      status: 'UPLOADED',
      patch: {
        uploadedAt: new Date().toISOString(),
        stoppedAt: new Date().toISOString(),
        stopReason: 'api',
        files: [{ key: 'recordings/local/x/recording.mp4', sizeBytes: 1234, durationSeconds: 5.5, format: 'mp4' }],
      },
    });
    const live = await seedRecording(t.stack.repository, t.stack.tenantId, { meetingId: 'live-room', status: 'RECORDING', lock: true });

    // Act + Assess
    const calls: [string, string, string, unknown?][] = [
      ['GET', `/v1/recordings/${uploaded.id}`, '/v1/recordings/{id}'],
      ['GET', '/v1/recordings?limit=1', '/v1/recordings'],
      ['GET', `/v1/recordings/${uploaded.id}/download?expiresIn=60`, '/v1/recordings/{id}/download'],
      ['GET', '/v1/meetings/live-room/active-recording', '/v1/meetings/{meetingId}/active-recording'],
      ['POST', `/v1/recordings/${live.id}/pause`, '/v1/recordings/{id}/pause'],
      ['POST', '/v1/tokens', '/v1/tokens', { meetingId: 'live-room', actions: ['stop', 'read'], ttlSeconds: 60 }],
      ['DELETE', `/v1/recordings/${uploaded.id}`, '/v1/recordings/{id}'],
    ];
    for (const [method, url, path, body] of calls) {
      const res = await t.api.request(method, url, body);
      expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      expectDocumented(method, path, res);
    }
  });

  it('problem answers carry a code documented for their route and status', async () => {
    // Prepare
    const invoked = await seedRecording(t.stack.repository, t.stack.tenantId);
    const unknown = 'rec_000000000000000000000000';

    // Act + Assess
    const calls: [string, string, string, unknown?][] = [
      ['GET', `/v1/recordings/${unknown}`, '/v1/recordings/{id}'],
      ['POST', `/v1/recordings/${invoked.id}/stop`, '/v1/recordings/{id}/stop'],
      ['POST', `/v1/recordings/${invoked.id}/resume`, '/v1/recordings/{id}/resume'],
      ['GET', `/v1/recordings/${invoked.id}/download`, '/v1/recordings/{id}/download'],
      ['DELETE', `/v1/recordings/${invoked.id}`, '/v1/recordings/{id}'],
      ['GET', '/v1/meetings/nobody-here/active-recording', '/v1/meetings/{meetingId}/active-recording'],
      ['GET', '/v1/recordings?cursor=bm9wZQ', '/v1/recordings'],
      ['POST', '/v1/recordings', '/v1/recordings', { meetingUrl: 'http://169.254.169.254/latest/meta-data/' }],
      ['POST', '/v1/recordings', '/v1/recordings', { meetingUrl: 'https://meet.example/a', colour: 'blue' }],
      ['POST', '/v1/tokens', '/v1/tokens', { meetingId: 'm', actions: ['fly'] }],
    ];
    for (const [method, url, path, body] of calls) {
      const res = await t.api.request(method, url, body);
      expect(res.status, `${method} ${url}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${url}`).toBeLessThan(500);
      expectDocumented(method, path, res);
    }
  });

  it('the checker is able to fail: an undocumented status, a wrong code or a wrong shape', () => {
    const problem = { type: 'urn:x', title: 'Not Found', status: 404, detail: 'd', code: 'recording_not_found' };
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 404, contentType: 'application/problem+json', body: problem })).toBeUndefined();
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 418, contentType: 'application/problem+json', body: problem })).toMatch(/not documented/);
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 404, contentType: 'application/json', body: problem })).toMatch(/content-type/);
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 404, contentType: 'application/problem+json', body: { ...problem, code: 'stop_in_progress' } })).toMatch(/schema/);
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 404, contentType: 'application/problem+json', body: { ...problem, status: 400 } })).toMatch(/schema/);
    expect(checker.check('GET', '/v1/recordings/{id}', { status: 200, contentType: 'application/json', body: { id: 'nope' } })).toMatch(/schema/);
  });
});
