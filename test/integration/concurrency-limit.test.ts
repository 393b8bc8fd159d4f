/**
 * The service-wide concurrency limit over real HTTP on the local stack, with MAX_CONCURRENT_RECORDINGS = 3.
 * RunTask is a stand-in that holds each task token (heartbeating) instead of a recorder process: the
 * recordings stay live (INVOKED) until the test ends them through the workflow (SendTaskFailure, then the real
 * MarkErrored task), so the test controls exactly how many are live without running Chromium.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/core/clients/dynamodb.ts';
import { MEETING_STARTED_DETAIL_TYPE } from '../../functions/core/meeting-events.ts';
import { liveRecordingsKey } from '../../functions/core/table-schema.ts';
import type { CallbackLauncher } from '../../local/local-step-functions.ts';
import { RECORDER_CONTAINER_NAME } from '../../workflow/recording-workflow.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack, type TestTenant } from '../support/stack.ts';

const LIMIT = 3;
let t: TestStack;
let acme: TestTenant;
let globex: TestTenant;
const logs: { message: string; fields: Record<string, unknown> }[] = [];

/** Task tokens of the launched "recorders", by recording id; each heartbeats until it is answered. */
const tasks = new Map<string, { token: string; heartbeat: NodeJS.Timeout }>();
const runTask: CallbackLauncher = async (params: any, token) => {
  const env = params.Overrides.ContainerOverrides.find((o: { Name: string }) => o.Name === RECORDER_CONTAINER_NAME).Environment;
  const recordingId = env.find((e: { Name: string }) => e.Name === 'RECORDING_ID').Value as string;
  const heartbeat = setInterval(() => t.stack.stepFunctions.sendTaskHeartbeat(token), 5_000);
  tasks.set(recordingId, { token, heartbeat });
};

/** Who started each accepted recording. */
const owners = new Map<string, TestTenant>();

/** Ends a live recording as a failed recorder would: the workflow's MarkErrored ends it ERRORED. */
async function endRecording(id: string): Promise<void> {
  const tenant = owners.get(id)!;
  const task = tasks.get(id)!;
  clearInterval(task.heartbeat);
  tasks.delete(id);
  t.stack.stepFunctions.sendTaskFailure(task.token, 'recorder_failed', JSON.stringify({ message: 'ended by the test' }));
  expect((await tenant.api.waitFor(id, ['ERRORED'], 15_000, 50)).status).toBe('ERRORED');
}

/** Puts an entry into the live-recording set directly, as a crashed writer would have left it. */
const addEntry = (id: string, addedAtMs: number) =>
  createDocumentClient().send(
    new UpdateCommand({
      TableName: t.stack.tableName,
      Key: liveRecordingsKey(),
      UpdateExpression: 'SET holders.#id = :at',
      ExpressionAttributeNames: { '#id': id },
      ExpressionAttributeValues: { ':at': addedAtMs },
    }),
  );

async function start(tenant: TestTenant, meetingId: string) {
  const res = await tenant.api.request('POST', '/v1/recordings', { meetingUrl: t.stack.demoUrl, meetingId });
  if (res.status === 201) owners.set(res.body.id, tenant);
  return res;
}

const expectLimitReached = (res: { status: number; headers: Headers; body: any }) => {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status: 429, code: 'concurrency_limit_reached', limit: LIMIT, title: 'Too Many Requests' });
};

beforeAll(async () => {
  t = await startTestStack({ maxConcurrentRecordings: LIMIT, runTask, log: (message, fields = {}) => void logs.push({ message, fields }) });
  acme = await t.createTenant();
  globex = await t.createTenant();
});
afterAll(async () => {
  for (const [id, task] of tasks) {
    clearInterval(task.heartbeat);
    t?.stack.stepFunctions.sendTaskFailure(task.token, 'recorder_failed', JSON.stringify({ message: `${id}: test over` }));
  }
  await t?.stop();
});

describe('at most MAX_CONCURRENT_RECORDINGS live recordings, all tenants together', () => {
  it('of 8 starts at once (two tenants), exactly 3 are accepted and 5 get 429; when one ends, a new start is accepted', async () => {
    // Act: 8 concurrent starts of different meetings
    const answers = await Promise.all(Array.from({ length: 8 }, (_v, i) => start(i % 2 ? acme : globex, `limit-${i}`)));

    // Assess: exactly LIMIT live, whoever they belong to; the others refused with the stable code
    const accepted = answers.filter((a) => a.status === 201);
    expect(accepted, JSON.stringify(answers.map((a) => a.status))).toHaveLength(LIMIT);
    for (const refused of answers.filter((a) => a.status !== 201)) expectLimitReached(refused);
    const liveIds = accepted.map((a) => a.body.id as string);
    expect((await t.stack.repository.liveRecordingIds()).sort()).toEqual([...liveIds].sort());
    // A refused start leaves nothing behind: no recording, and its meeting can be started later.
    const acmeList = await acme.api.request('GET', '/v1/recordings?limit=100');
    const globexList = await globex.api.request('GET', '/v1/recordings?limit=100');
    expect(acmeList.body.items.length + globexList.body.items.length).toBe(LIMIT);

    // The next start, from either tenant, is refused too...
    expectLimitReached(await start(acme, 'limit-next'));
    // ...but a meeting that is already being recorded is told so first (the meeting lock comes before the limit).
    const first = accepted[0]!.body.id as string;
    const duplicate = await start(owners.get(first)!, accepted[0]!.body.meetingId);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.code).toBe('recording_already_active');

    // Act: one recording ends (through the workflow's MarkErrored)
    const ended = liveIds[0]!;
    await endRecording(ended);

    // Assess: its place is free again, for one start only
    expect(await t.stack.repository.liveRecordingIds()).not.toContain(ended);
    const again = await start(acme, 'limit-next');
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expectLimitReached(await start(globex, 'limit-after'));

    // Cleanup: end them all; the set empties
    for (const id of [...liveIds.slice(1), again.body.id as string]) await endRecording(id);
    expect(await t.stack.repository.liveRecordingIds()).toEqual([]);
  }, 60_000);

  it('a Meeting Started event while the service is full is dropped with reason concurrency_limit_reached', async () => {
    // Prepare: fill the service
    const started = await Promise.all(Array.from({ length: LIMIT }, (_v, i) => start(acme, `full-${i}`)));
    expect(started.map((a) => a.status)).toEqual(Array(LIMIT).fill(201));

    // Act
    await t.stack.eventBus.put({
      source: 'com.example.meetings',
      detailType: MEETING_STARTED_DETAIL_TYPE,
      detail: { tenantId: globex.tenantId, meetingId: 'auto-full', meetingUrl: t.stack.demoUrl },
    });

    // Assess
    const dropped = logs.filter((l) => l.message === 'meeting event dropped').at(-1);
    expect(dropped?.fields).toMatchObject({ reason: 'concurrency_limit_reached', tenantId: globex.tenantId, meetingId: 'auto-full' });
    expect((await globex.api.request('GET', '/v1/meetings/auto-full/active-recording')).status).toBe(404);

    // Cleanup
    for (const a of started) await endRecording(a.body.id);
  }, 60_000);

  it('a full set drops entries that should have left (an ended recording, a start that crashed) and accepts the start', async () => {
    // Prepare: two live recordings, plus what crashes would leave in the set: an ERRORED recording (its writer
    // died between the final write and the release) and a recording never written (its creator died), a minute old
    const live = await Promise.all([start(acme, 'heal-1'), start(acme, 'heal-2')]);
    expect(live.map((a) => a.status)).toEqual([201, 201]);
    const ended = await seedRecording(t.stack.repository, acme.tenantId, { status: 'ERRORED' });
    expect(await t.stack.repository.acquireLiveSlot(ended.id)).toMatchObject({ acquired: true });
    await addEntry('rec_neverwritten00000000000000', Date.now() - 60_000);
    expect(await t.stack.repository.liveRecordingIds()).toHaveLength(4);

    // Act: a start finds the set full
    const healed = await start(globex, 'heal-3');

    // Assess: the two stale entries were dropped, the live ones kept, and the start accepted
    expect(healed.status, JSON.stringify(healed.body)).toBe(201);
    expect((await t.stack.repository.liveRecordingIds()).sort()).toEqual([live[0]!.body.id, live[1]!.body.id, healed.body.id].sort());

    // Act: a start that is still being written (an entry without its recording, just added) fills the last place
    await endRecording(healed.body.id);
    const beingWritten = 'rec_beingwritten00000000000000';
    await addEntry(beingWritten, Date.now());

    // Assess: it is not taken for stale
    expectLimitReached(await start(globex, 'heal-4'));

    // Cleanup
    await t.stack.repository.releaseLiveSlot(beingWritten);
    for (const a of live) await endRecording(a.body.id);
    expect(await t.stack.repository.liveRecordingIds()).toEqual([]);
  }, 60_000);
});
