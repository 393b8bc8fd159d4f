/**
 * Authentication and tenant isolation over real HTTP on the local stack: the same middleware, handlers and
 * DynamoDB emulator as in production. Recordings are seeded into the table, so no recorder is started.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../functions/core/auth/authenticator.ts';
import { newRecording, type RecordingStatus } from '../../functions/core/recording.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';
import { ROUTES } from '../../functions/routes.ts';
import type { ApiResponse } from '../../local/api-client.ts';
import { startTestStack, type TestStack, type TestTenant } from '../support/stack.ts';

let t: TestStack;
let acme: TestTenant;
let globex: TestTenant;
beforeAll(async () => {
  t = await startTestStack();
  [acme, globex] = await Promise.all([t.createTenant('acme'), t.createTenant('globex')]);
});
afterAll(async () => {
  await t?.stop();
});

const expectProblem = (res: ApiResponse, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: expect.stringContaining(code), title: expect.any(String), detail: expect.any(String) });
};

/** A recording of `tenantId` straight into the table; UPLOADED ones get a file so download can presign it. */
async function seed(tenantId: string, meetingId: string, status: RecordingStatus = 'RECORDING') {
  const id = newRecordingId();
  const recording = {
    ...newRecording({ id, tenantId, meetingId, meetingUrl: 'https://meet.example/room', now: new Date().toISOString() }),
    status,
    ...(status === 'UPLOADED' && { files: [{ key: `recordings/${tenantId}/${id}/recording.mp4`, sizeBytes: 10, durationSeconds: 1, format: 'mp4' as const }] }),
  };
  await t.stack.repository.create(recording);
  return recording;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token built by hand and signed with `secret` (a tenant's real secret, read from the table). */
function forgeToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'base64url')).update(input).digest('base64url')}`;
}
const nowSeconds = () => Math.floor(Date.now() / 1000);
const tokenClaims = (tenantId: string, over: Record<string, unknown> = {}) => ({
  iss: 'meeting-recorder', ten: tenantId, mid: 'room-1', act: ['read'], jti: 'test', iat: nowSeconds(), nbf: nowSeconds(), exp: nowSeconds() + 600, ...over,
});
const secretOf = async (tenantId: string) => (await t.credentials.getTenant(tenantId))!.tokenSigningSecret;

async function mint(client: TestTenant['api'], body: Record<string, unknown>) {
  const res = await client.request('POST', '/v1/tokens', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.token as string;
}

describe('requests without valid credentials: 401 problem+json', () => {
  // Every route, since API Gateway lets every request through to the functions (lib/api.ts, AwsSolutions-APIG4).
  it.each(ROUTES.map((route) => [route.method, route.path.replace(/\{[^}]+\}/g, 'rec_000000000000000000000000')]))(
    'no credentials on %s %s',
    async (method, path) => {
      const res = await t.api.withCredential(undefined).request(method!, path!, method === 'POST' ? { meetingUrl: 'https://meet.example/a' } : undefined);
      expectProblem(res, 401, 'unauthorized');
    },
  );

  it.each([
    ['a garbage bearer', { authorization: 'Bearer hello' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['Basic auth', { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }],
    ['a SigV4 Authorization header alone', { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/execute-api/aws4_request, Signature=abc' }],
    ['a malformed API key', { authorization: 'Bearer mr_nothex_short' }],
    ['a well-formed key that does not exist', { authorization: `Bearer mr_0123456789abcdef_${'A'.repeat(43)}` }],
    ['a token in x-api-key', { 'x-api-key': 'a.b.c' }],
  ])('%s', async (_label, headers) => {
    expectProblem(await t.api.withCredential(undefined).request('GET', '/v1/recordings', undefined, headers), 401, 'unauthorized');
  });

  it('an existing key id with another secret', async () => {
    const forged = `${acme.apiKey.slice(0, 20)}${'B'.repeat(43)}`;
    expect(forged.slice(0, 20)).toBe(`mr_${acme.keyId}_`);
    expectProblem(await acme.api.withCredential(forged).request('GET', '/v1/recordings'), 401, 'unauthorized');
  });

  it('two headers with different keys', async () => {
    const res = await acme.api.request('GET', '/v1/recordings', undefined, { 'x-api-key': globex.apiKey });
    expectProblem(res, 401, 'unauthorized');
  });

  it('a revoked key, at once in local mode', async () => {
    // Prepare: a working key
    const extra = await t.createTenant();
    const recording = await seed(extra.tenantId, 'm');
    expect((await extra.api.get(recording.id)).status).toBe(200);
    // Act
    await t.credentials.revokeApiKey(extra.keyId);
    // Assess
    expectProblem(await extra.api.get(recording.id), 401, 'unauthorized');
  });

  it('authentication comes before body validation (no schema details for strangers)', async () => {
    const res = await t.api.withCredential(undefined).request('POST', '/v1/recordings', { colour: 'blue' });
    expectProblem(res, 401, 'unauthorized');
    expect(JSON.stringify(res.body)).not.toContain('colour');
  });
});

describe('API keys', () => {
  it('work as a bearer, as x-api-key, and in x-api-key behind another Authorization scheme', async () => {
    const recording = await seed('acme', 'room-1');
    expect((await acme.api.get(recording.id)).status).toBe(200);
    const viaHeader = await acme.api.withCredential(undefined).request('GET', `/v1/recordings/${recording.id}`, undefined, { 'x-api-key': acme.apiKey });
    expect(viaHeader.status).toBe(200);
    const sigv4 = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=abc`;
    const behindIam = await acme.api.withCredential(undefined).request('GET', `/v1/recordings/${recording.id}`, undefined, { authorization: sigv4, 'x-api-key': acme.apiKey });
    expect(behindIam.status).toBe(200);
    const lowercase = await acme.api.withCredential(undefined).request('GET', `/v1/recordings/${recording.id}`, undefined, { authorization: `bearer ${acme.apiKey}` });
    expect(lowercase.status).toBe(200);
  });
});

describe('a tenant never sees or touches another tenant\'s recordings: 404, as for an unknown id', () => {
  it.each(['RECORDING', 'UPLOADED'] as const)('GET, stop and download of a %s recording', async (status) => {
    // Prepare
    const theirs = await seed('globex', 'shared-meeting', status);
    // Act
    const [get, stop, download] = [await acme.api.get(theirs.id), await acme.api.stop(theirs.id), await acme.api.download(theirs.id)];
    // Assess: exactly what an unknown id gets, and the recording is untouched
    for (const res of [get, stop, download]) expectProblem(res, 404, 'recording_not_found');
    const owner = await globex.api.get(theirs.id);
    expect(owner.status).toBe(200);
    expect(owner.body.status).toBe(status);
    if (status === 'UPLOADED') expect((await globex.api.download(theirs.id)).status).toBe(200);
    expect((await t.stack.repository.get(theirs.id, 'globex')).desiredState).toBe('RECORDING');
  });

  it('lists only its own recordings', async () => {
    const mine = await seed('acme', 'list-meeting', 'UPLOADED');
    const theirs = await seed('globex', 'list-meeting', 'UPLOADED');
    const res = await acme.api.request('GET', '/v1/recordings?meetingId=list-meeting');
    expect(res.status).toBe(200);
    const ids = JSON.stringify(res.body);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
  });

  it("a token minted by one tenant does not reach another tenant's recording of the same meeting", async () => {
    const theirs = await seed('globex', 'room-1');
    const token = await mint(acme.api, { meetingId: 'room-1', actions: ['read', 'stop'] });
    expectProblem(await acme.api.withCredential(token).get(theirs.id), 404, 'recording_not_found');
    expectProblem(await acme.api.withCredential(token).stop(theirs.id), 404, 'recording_not_found');
  });
});

describe('POST /v1/tokens', () => {
  it('mints a token for one meeting and some actions, with an API key', async () => {
    // Act
    const res = await acme.api.request('POST', '/v1/tokens', { meetingId: 'room-1', actions: ['read', 'stop'], ttlSeconds: 120 });
    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), tokenType: 'Bearer', expiresAt: expect.any(String), meetingId: 'room-1', actions: ['read', 'stop'] });
    const lifetime = Date.parse(res.body.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(100_000);
    expect(lifetime).toBeLessThanOrEqual(120_000);
  });

  it('defaults to one hour', async () => {
    const res = await acme.api.request('POST', '/v1/tokens', { meetingId: 'room-1', actions: ['read'] });
    expect(Math.round((Date.parse(res.body.expiresAt) - Date.now()) / 60_000)).toBe(60);
  });

  it.each([
    ['an unknown field', { meetingId: 'm', actions: ['read'], scope: 'admin' }, 'scope'],
    ['an unknown action', { meetingId: 'm', actions: ['read', 'delete'] }, 'actions'],
    ['no actions', { meetingId: 'm', actions: [] }, 'actions'],
    ['no meetingId', { actions: ['read'] }, 'meetingId'],
    ['a ttl over 24 h', { meetingId: 'm', actions: ['read'], ttlSeconds: 86_401 }, 'ttlSeconds'],
    ['a fractional ttl', { meetingId: 'm', actions: ['read'], ttlSeconds: 1.5 }, 'ttlSeconds'],
  ])('rejects %s: 400 naming the field', async (_label, body, field) => {
    const res = await acme.api.request('POST', '/v1/tokens', body);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field).join(',')).toContain(field);
  });

  it('a token cannot mint another: 403 insufficient_permissions', async () => {
    const token = await mint(acme.api, { meetingId: 'room-1', actions: ['start', 'stop', 'pause', 'resume', 'read'] });
    expectProblem(await acme.api.withCredential(token).request('POST', '/v1/tokens', { meetingId: 'room-1', actions: ['read'] }), 403, 'insufficient_permissions');
  });
});

describe('scoped tokens', () => {
  it('read their meeting\'s recording', async () => {
    const recording = await seed('acme', 'room-1');
    const token = await mint(acme.api, { meetingId: 'room-1', actions: ['read'] });
    const res = await acme.api.withCredential(token).get(recording.id);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(recording.id);
  });

  it('without the needed action: 403 insufficient_permissions, and nothing changes', async () => {
    const recording = await seed('acme', 'room-1');
    const token = await mint(acme.api, { meetingId: 'room-1', actions: ['read'] });
    const client = acme.api.withCredential(token);
    const stop = await client.stop(recording.id);
    expectProblem(stop, 403, 'insufficient_permissions');
    expect(stop.body.requiredAction).toBe('stop');
    expectProblem(await client.create('https://meet.example/room', 'room-1'), 403, 'insufficient_permissions');
    expect((await t.stack.repository.get(recording.id, 'acme')).desiredState).toBe('RECORDING');
  });

  it('for another meeting: its recordings are not found, and starting it is forbidden', async () => {
    const other = await seed('acme', 'room-2');
    const token = await mint(acme.api, { meetingId: 'room-1', actions: ['start', 'stop', 'read'] });
    const client = acme.api.withCredential(token);
    expectProblem(await client.get(other.id), 404, 'recording_not_found');
    expectProblem(await client.stop(other.id), 404, 'recording_not_found');
    expectProblem(await client.create('https://meet.example/room', 'room-2'), 403, 'insufficient_permissions');
  });

  it('expired: 401 token_expired', async () => {
    const past = nowSeconds() - 3600;
    const token = forgeToken({ alg: 'HS256', typ: 'JWT', kid: 'acme' }, tokenClaims('acme', { iat: past, nbf: past, exp: past + 60 }), await secretOf('acme'));
    expectProblem(await acme.api.withCredential(token).request('GET', '/v1/recordings?meetingId=room-1'), 401, 'token_expired');
  });

  it('a hand-built token with the real secret works (the control for the cases below)', async () => {
    const token = forgeToken({ alg: 'HS256', typ: 'JWT', kid: 'acme' }, tokenClaims('acme'), await secretOf('acme'));
    expect((await acme.api.withCredential(token).request('GET', '/v1/recordings?meetingId=room-1')).status).toBe(200);
  });

  it.each([
    ['a tampered payload (more actions)', async () => {
      const token = await mint(acme.api, { meetingId: 'room-1', actions: ['read'] });
      const [h, , s] = token.split('.');
      return `${h}.${b64(tokenClaims('acme', { act: ['read', 'stop', 'start'] }))}.${s}`;
    }],
    ['a flipped signature', async () => {
      const token = await mint(acme.api, { meetingId: 'room-1', actions: ['read'] });
      const [h, p, s] = token.split('.') as [string, string, string];
      const sig = Buffer.from(s, 'base64url');
      sig[5]! ^= 0x40;
      return `${h}.${p}.${sig.toString('base64url')}`;
    }],
    ['alg none without a signature', async () => `${b64({ alg: 'none', typ: 'JWT', kid: 'acme' })}.${b64(tokenClaims('acme'))}.`],
    ['alg none with a signature', async () => forgeToken({ alg: 'none', kid: 'acme' }, tokenClaims('acme'), await secretOf('acme'))],
    ['alg HS512', async () => forgeToken({ alg: 'HS512', kid: 'acme' }, tokenClaims('acme'), await secretOf('acme'))],
    ["another tenant's secret", async () => forgeToken({ alg: 'HS256', kid: 'acme' }, tokenClaims('acme'), await secretOf('globex'))],
    ['kid switched to another tenant', async () => forgeToken({ alg: 'HS256', kid: 'globex' }, tokenClaims('acme'), await secretOf('acme'))],
    ['an unknown tenant', async () => forgeToken({ alg: 'HS256', kid: 'nobody' }, tokenClaims('nobody'), await secretOf('acme'))],
    ['a foreign issuer', async () => forgeToken({ alg: 'HS256', kid: 'acme' }, tokenClaims('acme', { iss: 'elsewhere' }), await secretOf('acme'))],
  ])('%s: 401 unauthorized', async (_label, build) => {
    const token = await build();
    expectProblem(await acme.api.withCredential(token).request('GET', '/v1/recordings?meetingId=room-1'), 401, 'unauthorized');
  });
});

describe('the per-container cache (AWS default: 60 s)', () => {
  it('keeps accepting a revoked key until the entry expires, then refuses it', async () => {
    // Prepare: an authenticator as a Lambda container builds it, against the stack's real table, with a clock we move
    const extra = await t.createTenant();
    let now = Date.now();
    const authenticator = new Authenticator(t.credentials, { cacheSeconds: 60, now: () => now });
    const headers = { authorization: `Bearer ${extra.apiKey}` };
    expect(await authenticator.authenticate(headers)).toEqual({ tenantId: extra.tenantId, principal: `apiKey:${extra.keyId}` });
    // Act
    await t.credentials.revokeApiKey(extra.keyId);
    // Assess
    now += 59_000;
    expect((await authenticator.authenticate(headers)).tenantId).toBe(extra.tenantId);
    now += 2_000;
    await expect(authenticator.authenticate(headers)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    // A key that never worked is never cached: a fresh authenticator refuses it at once.
    await expect(new Authenticator(t.credentials, { cacheSeconds: 60 }).authenticate(headers)).rejects.toMatchObject({ status: 401 });
  });
});
