/** The repository against dynalite over HTTP: conditional writes, and two writers that never both win. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, InvalidTransitionError } from '../../functions/core/errors.ts';
import { newRecording } from '../../functions/core/recording.ts';
import { RecordingRepository } from '../../functions/core/recording-repository.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';
import { ensureResources, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type Emulators } from '../../local/emulators.ts';

let emulators: Emulators;
let dataDir: string;
let repo: RecordingRepository;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mr-repo-'));
  emulators = await startEmulators({ dataDir });
  await ensureResources(emulators, 'recordings', 'media');
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  repo = new RecordingRepository(db, 'recordings');
});

afterAll(async () => {
  await emulators.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const fresh = async () => {
  const r = newRecording({ id: newRecordingId(), tenantId: 't1', meetingId: 'm', meetingUrl: 'https://meet.example/x', now: new Date().toISOString() });
  await repo.create(r);
  return r;
};

describe('RecordingRepository on dynalite', () => {
  it('stores and reads back a recording; another tenant cannot see it', async () => {
    const r = await fresh();
    expect(await repo.get(r.id, 't1')).toEqual(r);
    await expect(repo.get(r.id, 't2')).rejects.toMatchObject({ status: 404, code: 'recording_not_found' });
  });

  it('refuses to create the same id twice', async () => {
    const r = await fresh();
    await expect(repo.create(r)).rejects.toThrow();
  });

  it('of two writers planning from the same version, exactly one wins', async () => {
    // Prepare: two writers read the same INVOKED recording.
    const r = await fresh();
    const a = (await repo.find(r.id))!;
    const b = (await repo.find(r.id))!;
    // Act: both try to move it, concurrently.
    const results = await Promise.allSettled([repo.transition(a, 'RECORDING'), repo.transition(b, 'ERRORED', { error: { code: 'x', message: 'y' } })]);
    // Assess
    const won = results.filter((x) => x.status === 'fulfilled');
    const lost = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(ConcurrentUpdateError);
    const stored = (await repo.find(r.id))!;
    expect(stored.version).toBe(2);
    expect(stored.sequence).toBe(2);
    expect(stored.status).toBe((won[0] as PromiseFulfilledResult<{ status: string }>).value.status);
  });

  it('twenty concurrent writers: one winner, nineteen conflicts', async () => {
    const r = await fresh();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => repo.transition(r, 'RECORDING')));
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect((await repo.find(r.id))!.version).toBe(2);
  });

  it('transitionLatest re-reads after a stop request bumped the version', async () => {
    const r = await fresh();
    const recording = await repo.transition(r, 'RECORDING');
    expect(await repo.requestStop(r.id)).toMatchObject({ desiredState: 'STOPPED', version: 3 });
    await expect(repo.transition(recording, 'UPLOADING')).rejects.toBeInstanceOf(ConcurrentUpdateError);
    const uploading = await repo.transitionLatest(r.id, 'UPLOADING');
    expect(uploading).toMatchObject({ status: 'UPLOADING', version: 4, sequence: 3, stopReason: 'api' });
  });

  it('a stop request only lands on a RECORDING recording, and only once', async () => {
    const r = await fresh();
    expect(await repo.requestStop(r.id)).toBeUndefined(); // INVOKED
    await repo.transition(r, 'RECORDING');
    expect(await repo.requestStop(r.id)).toBeDefined();
    expect(await repo.requestStop(r.id)).toBeUndefined(); // already stopping
  });

  it('never moves a terminal recording', async () => {
    const r = await fresh();
    await repo.transition(r, 'ERRORED', { error: { code: 'x', message: 'y' } });
    await expect(repo.transitionLatest(r.id, 'RECORDING')).rejects.toBeInstanceOf(InvalidTransitionError);
  });
});
