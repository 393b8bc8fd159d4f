/**
 * Auto-start on a real local stack: a customer's "Meeting Started" event on the bus starts a real recording
 * of the demo page (the recorder process, Chromium, ffmpeg) through the API's create path, and "Meeting
 * Ended" stops it. Bad events (malformed, unknown tenant, refused URL) are logged and dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEETING_ENDED_DETAIL_TYPE, MEETING_STARTED_DETAIL_TYPE } from '../../functions/core/meeting-events.ts';
import { startTestStack, type TestStack, type TestTenant } from '../support/stack.ts';

let t: TestStack;
let tenant: TestTenant;
const logs: { message: string; fields: Record<string, unknown> }[] = [];
const dropped = () => logs.filter((l) => l.message === 'meeting event dropped').map((l) => l.fields);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SOURCE = 'com.example.meetings';

beforeAll(async () => {
  t = await startTestStack({ log: (message, fields = {}) => void logs.push({ message, fields }) });
  tenant = await t.createTenant();
});
afterAll(async () => t?.stop());

const put = (detailType: string, detail: unknown, source = SOURCE) => t.stack.eventBus.put({ source, detailType, detail });

describe('Meeting Started / Meeting Ended events', () => {
  it('a Meeting Started event records the meeting; Meeting Ended stops it and it is uploaded', async () => {
    // Act: start
    await put(MEETING_STARTED_DETAIL_TYPE, { tenantId: tenant.tenantId, meetingId: 'auto-standup', meetingUrl: t.stack.demoUrl, maxDurationSeconds: 600 });
    const active = await tenant.api.request('GET', '/v1/meetings/auto-standup/active-recording');
    expect(active.status, JSON.stringify(active.body)).toBe(200);
    expect(active.body).toMatchObject({ meetingId: 'auto-standup', meetingUrl: t.stack.demoUrl, maxDurationSeconds: 600 });
    const id = active.body.id as string;
    // The same meeting lock as the API: a second start (or a POST) is refused while it is live.
    await put(MEETING_STARTED_DETAIL_TYPE, { tenantId: tenant.tenantId, meetingId: 'auto-standup', meetingUrl: t.stack.demoUrl });
    expect(dropped().at(-1)).toMatchObject({ reason: 'recording_already_active', tenantId: tenant.tenantId });
    expect((await tenant.api.create(t.stack.demoUrl, 'auto-standup')).body.code).toBe('recording_already_active');

    await tenant.api.waitFor(id, ['RECORDING'], 30_000, 50);
    await sleep(2000);
    // Act: end (an event for the same meeting id of another tenant stops nothing)
    const other = await t.createTenant();
    await put(MEETING_ENDED_DETAIL_TYPE, { tenantId: other.tenantId, meetingId: 'auto-standup' });
    expect(dropped().at(-1)).toMatchObject({ reason: 'no_active_recording', tenantId: other.tenantId });
    expect((await tenant.api.get(id)).body.status).toBe('RECORDING');
    await put(MEETING_ENDED_DETAIL_TYPE, { tenantId: tenant.tenantId, meetingId: 'auto-standup' });
    const done = await tenant.api.waitFor(id, ['UPLOADED', 'ERRORED'], 30_000, 100);

    // Assess
    expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
    expect(done.stopReason).toBe('api');
    expect(done.files).toHaveLength(1);
    expect(done.files![0]!.durationSeconds).toBeGreaterThan(1);
    expect(logs.some((l) => l.message === 'recording started by a meeting event' && l.fields.recordingId === id)).toBe(true);
    expect(logs.some((l) => l.message === 'recording stopped by a meeting event' && l.fields.recordingId === id)).toBe(true);
  });

  it('drops malformed events, unknown tenants, refused URLs and its own source, logging why, and starts nothing', async () => {
    const before = dropped().length;
    const bad: [unknown, string][] = [
      [{ tenantId: tenant.tenantId, meetingId: 'm-bad' }, 'invalid_detail'], // no meetingUrl
      [{ tenantId: tenant.tenantId, meetingId: 'has space', meetingUrl: t.stack.demoUrl }, 'invalid_detail'],
      [{ tenantId: tenant.tenantId, meetingId: 'm-bad', meetingUrl: 'file:///etc/passwd' }, 'invalid_detail'],
      [{ tenantId: tenant.tenantId, meetingId: 'm-bad', meetingUrl: t.stack.demoUrl, maxDurationSeconds: -1 }, 'invalid_detail'],
      ['not an object', 'invalid_detail'],
      [{ tenantId: 't-does-not-exist', meetingId: 'm-bad', meetingUrl: t.stack.demoUrl }, 'unknown_tenant'],
      [{ tenantId: tenant.tenantId, meetingId: 'm-bad', meetingUrl: 'http://169.254.169.254/latest/meta-data' }, 'url_not_allowed'],
      [{ tenantId: tenant.tenantId, meetingId: 'm-bad', meetingUrl: 'http://127.0.0.2:9/' }, 'url_not_allowed'],
    ];
    for (const [detail] of bad) await expect(put(MEETING_STARTED_DETAIL_TYPE, detail)).resolves.toBeUndefined();
    await put(MEETING_ENDED_DETAIL_TYPE, { meetingId: 'm-bad' });
    // The service's own source is not a trigger.
    await put(MEETING_STARTED_DETAIL_TYPE, { tenantId: tenant.tenantId, meetingId: 'm-own', meetingUrl: t.stack.demoUrl }, 'meeting-recorder');

    expect(dropped().slice(before).map((d) => d.reason)).toEqual([...bad.map(([, reason]) => reason), 'invalid_detail']);
    expect(dropped().find((d) => d.reason === 'unknown_tenant')).toMatchObject({ tenantId: 't-does-not-exist', source: SOURCE });
    const listed = await tenant.api.request('GET', '/v1/recordings?meetingId=m-bad');
    expect(listed.body.items).toEqual([]);
    expect((await tenant.api.request('GET', '/v1/recordings?meetingId=m-own')).body.items).toEqual([]);
  });
});
