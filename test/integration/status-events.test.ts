/**
 * Status events through the transactional outbox, on a real local stack (dynalite over HTTP, the same
 * OutboxPublisher as AWS, the local bus with EventBridge pattern matching). No transition is ever lost:
 * not while the publisher is stopped, nor when it crashes between publishing and clearing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/core/clients/dynamodb.ts';
import { OutboxPublisher } from '../../functions/core/outbox.ts';
import { STATUS_CHANGED_DETAIL_TYPE, type BusEvent, type RecordingStatusChangedDetail } from '../../functions/core/recording-events.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { recordWholeLife, until, WHOLE_LIFE } from '../support/recording-life.ts';

let t: TestStack;
const received: BusEvent<RecordingStatusChangedDetail>[] = [];
const of = (recordingId: string) => received.filter((e) => e.detail.recordingId === recordingId);

beforeAll(async () => {
  t = await startTestStack({ outboxIntervalMs: 50 });
  t.stack.eventBus.addRule({
    name: 'test-all-status-events',
    pattern: { source: ['meeting-recorder'], 'detail-type': [STATUS_CHANGED_DETAIL_TYPE] },
    target: (event) => void received.push(event as BusEvent<RecordingStatusChangedDetail>),
  });
});
afterAll(async () => t?.stop());

describe('status events (outbox -> bus)', () => {
  it('publishes every transition once, in order, with the documented detail', async () => {
    // Act
    const r = await recordWholeLife(t.stack.repository, t.stack.tenantId);
    const events = await until(() => of(r.id).length >= WHOLE_LIFE.length && of(r.id), 'six events');
    // Assess
    expect(events.map((e) => e.detail.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => e.detail.status)).toEqual([...WHOLE_LIFE]);
    expect(events.map((e) => e.detail.previousStatus)).toEqual([null, ...WHOLE_LIFE.slice(0, -1)]);
    const uploaded = events.at(-1)!;
    expect(uploaded).toMatchObject({ source: 'meeting-recorder', 'detail-type': 'Recording Status Changed', resources: [`recording/${r.id}`] });
    expect(uploaded.detail).toMatchObject({ eventId: `${r.id}:6`, recordingId: r.id, tenantId: t.stack.tenantId, meetingId: 'weekly-standup' });
    expect(uploaded.detail.recording).toMatchObject({ id: r.id, status: 'UPLOADED', sequence: 6, files: [{ format: 'mp4', sizeBytes: 1234 }] });
    expect(uploaded.detail.recording).not.toHaveProperty('version');
    expect(uploaded.detail.recording).not.toHaveProperty('outbox');
    expect(uploaded.detail.occurredAt).toBe(r.updatedAt);
    // The outbox empties (the publisher clears it just after the bus accepted the events) and the item
    // leaves the pendingEvents index; the API never shows the outbox.
    const outboxOf = async () => (await t.stack.repository.find(r.id))?.outbox ?? {};
    await until(async () => Object.keys(await outboxOf()).length === 0, 'the outbox to be cleared').catch(() => undefined);
    expect(await outboxOf()).toEqual({});
    const { body } = await t.api.request('GET', `/v1/recordings/${r.id}`);
    expect(body).not.toHaveProperty('outbox');
  });

  it('loses nothing while the publisher is stopped: after a restart every event arrives once per sequence, in order', async () => {
    // Prepare: the publisher is down (as if crashed) while a whole recording life happens.
    await t.stack.outbox.pause();
    const r = await recordWholeLife(t.stack.repository, t.stack.tenantId, 'paused-publisher');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(of(r.id)).toEqual([]);
    const publisher = new OutboxPublisher({ db: createDocumentClient(), tableName: t.stack.tableName, sink: t.stack.eventBus, source: 'meeting-recorder' });
    expect(await publisher.pendingRecordingIds()).toContain(r.id);
    expect(Object.keys((await t.stack.repository.find(r.id))!.outbox!).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    // Act
    t.stack.outbox.resume();
    const events = await until(() => of(r.id).length >= WHOLE_LIFE.length && of(r.id), 'six events after the restart');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Assess
    expect(of(r.id).map((e) => e.detail.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => e.detail.status)).toEqual([...WHOLE_LIFE]);
    expect(await publisher.pendingRecordingIds()).not.toContain(r.id);
  });

  it('a publisher that crashes after PutEvents and before clearing sends again: at least once, same eventId, none missing', async () => {
    // Prepare: the loop is down; a publisher whose process "dies" right after the bus accepted the events.
    await t.stack.outbox.pause();
    const r = await recordWholeLife(t.stack.repository, t.stack.tenantId, 'crashing-publisher', 3);
    const crashing = new OutboxPublisher({
      db: createDocumentClient(),
      tableName: t.stack.tableName,
      source: 'meeting-recorder',
      sink: {
        putEvents: async (entries) => {
          await t.stack.eventBus.putEvents(entries);
          throw new Error('crash after PutEvents');
        },
      },
    });
    // Act
    await expect(crashing.drain(r.id)).rejects.toThrow('crash after PutEvents');
    // More transitions while the events are still in the outbox, then the real publisher restarts.
    const latest = (await t.stack.repository.find(r.id))!;
    const next = await t.stack.repository.transition(latest, 'UPLOADING', { stopReason: 'api' });
    await t.stack.repository.transition(next, 'ERRORED', { error: { code: 'test', message: 'test' } });
    t.stack.outbox.resume();
    await until(() => of(r.id).some((e) => e.detail.sequence === 5), 'the last event');
    // Assess: duplicates carry the same eventId and detail; deduped by eventId, every sequence once, in order.
    const byId = new Map<string, RecordingStatusChangedDetail[]>();
    for (const e of of(r.id)) byId.set(e.detail.eventId, [...(byId.get(e.detail.eventId) ?? []), e.detail]);
    expect([...byId.keys()]).toEqual([1, 2, 3, 4, 5].map((seq) => `${r.id}:${seq}`));
    for (const copies of byId.values()) for (const copy of copies) expect(copy).toEqual(copies[0]);
    expect(of(r.id).length).toBe(8); // 1-3 twice (the crash), 4-5 once
  });
});
