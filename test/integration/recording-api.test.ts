/**
 * The public recording API over real HTTP on the local stack: the lifecycle rules (pause, resume, stop,
 * delete), the meeting lock, idempotency keys, list queries from the DynamoDB indexes, and download links.
 * Where a test needs many recordings in given states it writes them through the real repository (no
 * recorder runs for those); the lock and idempotency tests start real recordings through the API.
 */
import { PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../functions/core/clients/s3.ts';
import type { Recording, RecordingStatus } from '../../functions/core/recording.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';
import { recordingMediaKey } from '../../functions/core/recording-files.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack, type TestTenant } from '../support/stack.ts';

let t: TestStack;
let acme: TestTenant;
let other: TestTenant;
beforeAll(async () => {
  t = await startTestStack();
  acme = await t.createTenant();
  other = await t.createTenant();
});
afterAll(async () => {
  await t?.stop();
});

const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status, code });
};

/** A recording in a given state, written through the repository with no recorder (see test/support/seed.ts). */
const seed = (tenantId: string, opts: Parameters<typeof seedRecording>[2] = {}) => seedRecording(t.stack.repository, tenantId, opts);

describe('pause, resume and stop follow the state model', () => {
  it('pause from RECORDING asks the recorder to pause; a second pause is 409 recording_already_paused', async () => {
    const r = await seed(acme.tenantId, { status: 'RECORDING' });
    const res = await acme.api.request('POST', `/v1/recordings/${r.id}/pause`);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('RECORDING'); // the recorder has not followed yet
    expect((await t.stack.repository.find(r.id))!).toMatchObject({ desiredState: 'PAUSED', pauseRequestedAt: expect.any(String) });
    expectProblem(await acme.api.request('POST', `/v1/recordings/${r.id}/pause`), 409, 'recording_already_paused');
  });

  it('resume from PAUSED asks the recorder to resume; resume of a recording that is not paused is 409 recording_not_paused', async () => {
    const paused = await seed(acme.tenantId, { status: 'PAUSED', patch: { desiredState: 'PAUSED' } });
    const res = await acme.api.request('POST', `/v1/recordings/${paused.id}/resume`);
    expect(res.status).toBe(202);
    expect((await t.stack.repository.find(paused.id))!).toMatchObject({ desiredState: 'RECORDING', resumeRequestedAt: expect.any(String) });
    expectProblem(await acme.api.request('POST', `/v1/recordings/${paused.id}/resume`), 409, 'recording_not_paused');
    const recording = await seed(acme.tenantId, { status: 'RECORDING' });
    expectProblem(await acme.api.request('POST', `/v1/recordings/${recording.id}/resume`), 409, 'recording_not_paused');
  });

  it('stop is allowed from PAUSED; a repeated stop is 409 stop_in_progress; pause or resume after a stop is 409 stop_in_progress', async () => {
    const paused = await seed(acme.tenantId, { status: 'PAUSED', patch: { desiredState: 'PAUSED' } });
    const res = await acme.api.request('POST', `/v1/recordings/${paused.id}/stop`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ stopReason: 'api', stopRequestedAt: expect.any(String) });
    expectProblem(await acme.api.request('POST', `/v1/recordings/${paused.id}/stop`), 409, 'stop_in_progress');
    expectProblem(await acme.api.request('POST', `/v1/recordings/${paused.id}/pause`), 409, 'stop_in_progress');
    expectProblem(await acme.api.request('POST', `/v1/recordings/${paused.id}/resume`), 409, 'stop_in_progress');
  });

  it.each(['INVOKED', 'UPLOADED', 'ERRORED'] as const)('pause, resume and stop of an %s recording: 409 recording_not_active', async (status) => {
    const r = await seed(acme.tenantId, { status });
    for (const op of ['pause', 'resume', 'stop']) {
      expectProblem(await acme.api.request('POST', `/v1/recordings/${r.id}/${op}`), 409, 'recording_not_active');
    }
  });

  it('another tenant gets 404 for every operation, as for an id that does not exist', async () => {
    const r = await seed(acme.tenantId, { status: 'RECORDING' });
    for (const [method, path] of [
      ['GET', ''],
      ['POST', '/pause'],
      ['POST', '/resume'],
      ['POST', '/stop'],
      ['GET', '/download'],
      ['DELETE', ''],
    ] as const) {
      expectProblem(await other.api.request(method, `/v1/recordings/${r.id}${path}`), 404, 'recording_not_found');
    }
    expect((await t.stack.repository.find(r.id))!.desiredState).toBe('RECORDING');
  });

  it('a body on a route that takes none is rejected', async () => {
    const r = await seed(acme.tenantId, { status: 'RECORDING' });
    expectProblem(await acme.api.request('POST', `/v1/recordings/${r.id}/pause`, { now: true }), 400, 'validation_failed');
  });
});

describe('maxDurationSeconds', () => {
  it.each([0, -1, 1.5, 86_401, '60'])('%s is rejected', async (maxDurationSeconds) => {
    const res = await acme.api.request('POST', '/v1/recordings', { meetingUrl: t.stack.demoUrl, maxDurationSeconds });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].field).toBe('maxDurationSeconds');
  });
});

describe('delete', () => {
  it('removes an ended recording: its files, leftovers under its prefix, and its record', async () => {
    const s3 = createS3Client();
    const id = newRecordingId();
    const key = recordingMediaKey(acme.tenantId, id);
    const keys = [key, `${key}.pending/p000001-s000001-t0`];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: t.stack.bucketName, Key: k, Body: 'media' }));
    const r = await seed(acme.tenantId, { id, status: 'UPLOADED', patch: { files: [{ key, sizeBytes: 5, durationSeconds: 1, format: 'mp4' }] } });
    const res = await acme.api.request('DELETE', `/v1/recordings/${r.id}`);
    expect(res.status).toBe(204);
    expectProblem(await acme.api.request('GET', `/v1/recordings/${r.id}`), 404, 'recording_not_found');
    for (const k of keys) await expect(s3.send(new HeadObjectCommand({ Bucket: t.stack.bucketName, Key: k }))).rejects.toThrow();
    expectProblem(await acme.api.request('DELETE', `/v1/recordings/${r.id}`), 404, 'recording_not_found');
    s3.destroy();
  });

  it('a scoped token cannot delete: 403 insufficient_permissions', async () => {
    const r = await seed(acme.tenantId, { status: 'UPLOADED', meetingId: 'del' });
    const minted = await acme.api.request('POST', '/v1/tokens', { meetingId: 'del', actions: ['start', 'stop', 'pause', 'resume', 'read'] });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    expectProblem(await acme.api.withCredential(minted.body.token).request('DELETE', `/v1/recordings/${r.id}`), 403, 'insufficient_permissions');
    expect(await t.stack.repository.find(r.id)).toBeDefined();
  });

  it.each(['INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING'] as const)('a %s recording must be stopped first: 409 recording_active', async (status) => {
    const r = await seed(acme.tenantId, { status });
    expectProblem(await acme.api.request('DELETE', `/v1/recordings/${r.id}`), 409, 'recording_active');
    expect(await t.stack.repository.find(r.id)).toBeDefined();
  });
});

describe('download links', () => {
  async function uploaded(uploadedAgoMs: number) {
    const r = await seed(acme.tenantId, {
      status: 'UPLOADED',
      patch: {
        uploadedAt: new Date(Date.now() - uploadedAgoMs).toISOString(),
        files: [{ key: recordingMediaKey(acme.tenantId, 'f'), sizeBytes: 1, durationSeconds: 1, format: 'mp4' }],
      },
    });
    return r.id;
  }
  const lifetimeMs = (link: { expiresAt: string }) => Date.parse(link.expiresAt) - Date.now();

  it('live 1 h by default, as long as expiresIn asks, at most 7 days', async () => {
    const id = await uploaded(0);
    const byDefault = await acme.api.request('GET', `/v1/recordings/${id}/download`);
    expect(byDefault.status).toBe(200);
    expect(lifetimeMs(byDefault.body.files[0]) / 1000).toBeCloseTo(3600, -1);
    expect(new URL(byDefault.body.files[0].url).searchParams.get('X-Amz-Expires')).toBe('3600');
    const day = await acme.api.request('GET', `/v1/recordings/${id}/download?expiresIn=86400`);
    expect(new URL(day.body.files[0].url).searchParams.get('X-Amz-Expires')).toBe('86400');
    expectProblem(await acme.api.request('GET', `/v1/recordings/${id}/download?expiresIn=604801`), 400, 'validation_failed');
    expectProblem(await acme.api.request('GET', `/v1/recordings/${id}/download?expiresIn=0`), 400, 'validation_failed');
    expectProblem(await acme.api.request('GET', `/v1/recordings/${id}/download?expiresIn=abc`), 400, 'validation_failed');
    expectProblem(await acme.api.request('GET', `/v1/recordings/${id}/download?ttl=5`), 400, 'validation_failed');
  });

  it('never past the file expiry (7 days after upload)', async () => {
    const id = await uploaded(6.5 * 86_400_000);
    const res = await acme.api.request('GET', `/v1/recordings/${id}/download?expiresIn=604800`);
    expect(res.status).toBe(200);
    const seconds = Number(new URL(res.body.files[0].url).searchParams.get('X-Amz-Expires'));
    expect(seconds).toBeGreaterThan(0.5 * 86_400 - 120);
    expect(seconds).toBeLessThanOrEqual(0.5 * 86_400);
  });

  it('a recording past its retention: 410 recording_expired', async () => {
    const id = await uploaded(8 * 86_400_000);
    expectProblem(await acme.api.request('GET', `/v1/recordings/${id}/download`), 410, 'recording_expired');
  });
});

describe('lists come from the indexes, newest first, with an opaque cursor', () => {
  let tenant: TestTenant;
  const created: Recording[] = [];
  beforeAll(async () => {
    tenant = await t.createTenant();
    const base = Date.parse('2026-03-01T10:00:00.000Z');
    const statuses: RecordingStatus[] = ['UPLOADED', 'ERRORED', 'RECORDING', 'UPLOADED', 'INVOKED'];
    for (let i = 0; i < 25; i++) {
      created.push(
        await seed(tenant.tenantId, {
          meetingId: i % 2 ? 'odd' : 'even',
          status: statuses[i % statuses.length],
          createdAt: new Date(base + i * 60_000).toISOString(),
        }),
      );
    }
    await seed(other.tenantId, { meetingId: 'odd', status: 'UPLOADED', createdAt: new Date(base).toISOString() });
  });
  const ids = (items: { id: string }[]) => items.map((r) => r.id);
  const newestFirst = (rs: Recording[]) => ids([...rs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)));

  async function all(query: string) {
    const out: any[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 30; page++) {
      const res = await tenant.api.request('GET', `/v1/recordings?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      out.push(...res.body.items);
      cursor = res.body.nextCursor;
      if (!cursor) return out;
    }
    throw new Error('too many pages');
  }

  it('pages through every recording of the tenant exactly once, newest first', async () => {
    const first = await tenant.api.request('GET', '/v1/recordings?limit=10');
    expect(first.body.items).toHaveLength(10);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect(ids(await all('limit=7'))).toEqual(newestFirst(created));
  });

  it('filters by meeting, by status, and by both', async () => {
    expect(ids(await all('meetingId=odd&limit=4'))).toEqual(newestFirst(created.filter((r) => r.meetingId === 'odd')));
    expect(ids(await all('status=UPLOADED&limit=3'))).toEqual(newestFirst(created.filter((r) => r.status === 'UPLOADED')));
    expect(ids(await all('meetingId=even&status=UPLOADED&limit=2'))).toEqual(
      newestFirst(created.filter((r) => r.status === 'UPLOADED' && r.meetingId === 'even')),
    );
  });

  it('filters by creation time: createdFrom inclusive, createdTo exclusive', async () => {
    const from = created[5]!.createdAt;
    const to = created[15]!.createdAt;
    expect(ids(await all(`createdFrom=${from}&createdTo=${to}&limit=4`))).toEqual(newestFirst(created.slice(5, 15)));
    expect(ids(await all(`meetingId=even&createdFrom=${from}`))).toEqual(newestFirst(created.slice(5).filter((r) => r.meetingId === 'even')));
  });

  it('a status change moves a recording between status lists', async () => {
    const r = created.find((x) => x.status === 'RECORDING')!;
    const latest = (await t.stack.repository.find(r.id))!;
    await t.stack.repository.transition(latest, 'ERRORED', { error: { code: 'x', message: 'y' } });
    expect(ids(await all('status=RECORDING'))).not.toContain(r.id);
    expect(ids(await all('status=ERRORED'))).toContain(r.id);
  });

  it('bad parameters and foreign or forged cursors: 400', async () => {
    expectProblem(await tenant.api.request('GET', '/v1/recordings?status=DONE'), 400, 'validation_failed');
    expectProblem(await tenant.api.request('GET', '/v1/recordings?limit=0'), 400, 'validation_failed');
    expectProblem(await tenant.api.request('GET', '/v1/recordings?limit=101'), 400, 'validation_failed');
    expectProblem(await tenant.api.request('GET', '/v1/recordings?createdFrom=yesterday'), 400, 'validation_failed');
    expectProblem(await tenant.api.request('GET', '/v1/recordings?sort=asc'), 400, 'validation_failed');
    expectProblem(await tenant.api.request('GET', '/v1/recordings?cursor=abc'), 400, 'invalid_cursor');
    const page = await tenant.api.request('GET', '/v1/recordings?limit=2');
    // Another tenant replaying the cursor, or the same tenant on another query: refused, never a 5xx.
    expectProblem(await other.api.request('GET', `/v1/recordings?limit=2&cursor=${page.body.nextCursor}`), 400, 'invalid_cursor');
    expectProblem(await tenant.api.request('GET', `/v1/recordings?meetingId=odd&cursor=${page.body.nextCursor}`), 400, 'invalid_cursor');
  });

  it("a scoped token lists only its meeting's recordings", async () => {
    const minted = await tenant.api.request('POST', '/v1/tokens', { meetingId: 'odd', actions: ['read'] });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const token = tenant.api.withCredential(minted.body.token);
    const res = await token.request('GET', '/v1/recordings?limit=100');
    expect(res.status).toBe(200);
    expect(ids(res.body.items)).toEqual(newestFirst(created.filter((r) => r.meetingId === 'odd')));
    expectProblem(await token.request('GET', '/v1/recordings?meetingId=even'), 403, 'insufficient_permissions');
    expectProblem(await token.request('GET', '/v1/meetings/even/active-recording'), 403, 'insufficient_permissions');
    const writeOnly = await tenant.api.request('POST', '/v1/tokens', { meetingId: 'odd', actions: ['stop'] });
    expectProblem(await tenant.api.withCredential(writeOnly.body.token).request('GET', '/v1/recordings'), 403, 'insufficient_permissions');
  });

  it('a tenant lists only its own recordings', async () => {
    const mine = await all('meetingId=odd');
    expect(mine.every((r) => created.some((c) => c.id === r.id))).toBe(true);
  });
});

describe('meeting lock and idempotency, with real recordings', () => {
  it('50 concurrent starts for one meeting with different keys: exactly one 201, the rest 409 naming it', async () => {
    const meetingId = `lock-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        acme.api.request('POST', '/v1/recordings', { meetingUrl: t.stack.demoUrl, meetingId }, { 'idempotency-key': `lock-${i}` }),
      ),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    const id = created[0]!.body.id;
    for (const a of answers.filter((x) => x.status !== 201)) {
      expectProblem(a, 409, 'recording_already_active');
      expect(a.body.activeRecordingId).toBe(id);
    }
    const active = await acme.api.request('GET', `/v1/meetings/${meetingId}/active-recording`);
    expect(active.status).toBe(200);
    expect(active.body.id).toBe(id);
    expectProblem(await other.api.request('GET', `/v1/meetings/${meetingId}/active-recording`), 404, 'no_active_recording');

    await acme.api.waitFor(id, ['RECORDING'], 60_000);
    expect((await acme.api.stop(id)).status).toBe(202);
    const ended = await acme.api.waitFor(id, ['UPLOADED'], 60_000);
    expect(ended.status, JSON.stringify(ended.error)).toBe('UPLOADED');
    expectProblem(await acme.api.request('GET', `/v1/meetings/${meetingId}/active-recording`), 404, 'no_active_recording');
    // The lock went with the recording: the meeting can be recorded again.
    const again = await acme.api.request('POST', '/v1/recordings', { meetingUrl: t.stack.demoUrl, meetingId, maxDurationSeconds: 60 });
    expect(again.status).toBe(201);
    expect(again.body.maxDurationSeconds).toBe(60);
    await acme.api.waitFor(again.body.id, ['RECORDING'], 60_000);
    await acme.api.stop(again.body.id);
    await acme.api.waitFor(again.body.id, ['UPLOADED'], 60_000);
  }, 180_000);

  it('50 concurrent identical starts with one key: one recording, one workflow, the same answer to all', async () => {
    const meetingId = `idem-${Date.now()}`;
    const body = { meetingUrl: t.stack.demoUrl, meetingId };
    const executionsBefore = t.stack.stepFunctions.executionNames().length;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => acme.api.request('POST', '/v1/recordings', body, { 'idempotency-key': `idem-${meetingId}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    expect(t.stack.stepFunctions.executionNames().length - executionsBefore).toBe(1);
    const listed = await acme.api.request('GET', `/v1/recordings?meetingId=${meetingId}`);
    expect(listed.body.items).toHaveLength(1);

    // The same key with another body: 422; a later replay of the original still answers the first response.
    const reused = await acme.api.request('POST', '/v1/recordings', { ...body, maxDurationSeconds: 30 }, { 'idempotency-key': `idem-${meetingId}` });
    expectProblem(reused, 422, 'idempotency_key_reused');
    // The same key from another tenant is another key: its (invalid) request runs, it is not a reuse.
    const foreign = await other.api.request('POST', '/v1/recordings', { ...body, maxDurationSeconds: 0 }, { 'idempotency-key': `idem-${meetingId}` });
    expectProblem(foreign, 400, 'validation_failed');
    const id = [...ids][0]!;
    await acme.api.waitFor(id, ['RECORDING'], 60_000);
    // A stop with a key, replayed: the second answer is the first (202), not 409 stop_in_progress.
    const stop1 = await acme.api.request('POST', `/v1/recordings/${id}/stop`, undefined, { 'idempotency-key': `stop-${id}` });
    const stop2 = await acme.api.request('POST', `/v1/recordings/${id}/stop`, undefined, { 'idempotency-key': `stop-${id}` });
    expect([stop1.status, stop2.status]).toEqual([202, 202]);
    expect(stop2.body).toEqual(stop1.body);
    expect(stop2.headers.get('idempotent-replayed')).toBe('true');
    await acme.api.waitFor(id, ['UPLOADED'], 60_000);
  }, 180_000);

  it('a bad Idempotency-Key: 400 invalid_idempotency_key', async () => {
    expectProblem(
      await acme.api.request('POST', '/v1/recordings', { meetingUrl: t.stack.demoUrl }, { 'idempotency-key': 'x'.repeat(256) }),
      400,
      'invalid_idempotency_key',
    );
  });
});
