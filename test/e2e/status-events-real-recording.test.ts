/**
 * Status events of a REAL recording (the recorder process with Chromium and ffmpeg on the demo page): a
 * tenant's webhook receiver on 127.0.0.1 gets every transition over HTTP, in sequence order, each signature
 * verified with the `standardwebhooks` package as a receiver would; and a customer rule on the bus with
 * the README's pattern sees the UPLOADED event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent, RecordingStatusChangedDetail } from '../../functions/core/recording-events.ts';
import { startHttpServer, type TestServer } from '../support/servers.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { until } from '../support/recording-life.ts';

let t: TestStack;
let receiver: TestServer;
const requests: { headers: Record<string, string>; body: string }[] = [];

beforeAll(async () => {
  t = await startTestStack({ outboxIntervalMs: 100 });
  receiver = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(204).end();
    });
  });
});
afterAll(async () => {
  await receiver?.close();
  await t?.stop();
});

describe('status events of a real recording', () => {
  it('reach a signed webhook receiver (INVOKED..UPLOADED in order, files on UPLOADED) and a customer rule on the bus', async () => {
    // Prepare: a tenant subscribes; a customer rule with the README's pattern (its meeting's UPLOADED events).
    const tenant = await t.createTenant();
    const sub = await tenant.api.request('POST', '/v1/webhooks', {
      url: `${receiver.url}/hooks/recordings`,
      events: ['INVOKED', 'RECORDING', 'UPLOADING', 'UPLOADED'],
      description: 'e2e',
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const secret = sub.body.secret as string;
    const ruled: BusEvent<RecordingStatusChangedDetail>[] = [];
    t.stack.eventBus.addRule({
      name: 'customer-standup-uploaded',
      pattern: { source: ['meeting-recorder'], 'detail-type': ['Recording Status Changed'], detail: { status: ['UPLOADED'], meetingId: ['e2e-events'] } },
      target: (event) => void ruled.push(event as BusEvent<RecordingStatusChangedDetail>),
    });

    // Act: record about 5 s of the demo meeting through the API.
    const created = await tenant.api.create(t.stack.demoUrl, 'e2e-events');
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await tenant.api.waitFor(id, ['RECORDING'], 30_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect((await tenant.api.stop(id)).status).toBe(202);
    const done = await tenant.api.waitFor(id, ['UPLOADED', 'ERRORED'], 30_000, 100);
    expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
    await until(() => requests.length >= 4 && ruled.length >= 1, 'four webhooks and the rule', 15_000);

    // Assess: each webhook verifies with the subscription's secret, as a receiver's library checks it.
    const hook = new Webhook(secret);
    const payloads = requests.map((r) => {
      const payload = hook.verify(r.body, r.headers) as { type: string; data: RecordingStatusChangedDetail };
      expect(r.headers['webhook-id']).toBe(`msg_${id}_${payload.data.sequence}`);
      return payload;
    });
    expect(() => hook.verify(requests[0]!.body.replace('INVOKED', 'UPLOADED'), requests[0]!.headers)).toThrow();
    expect(payloads.every((p) => p.type === 'recording.statusUpdate' && p.data.recordingId === id && p.data.tenantId === tenant.tenantId)).toBe(true);
    const ordered = [...payloads].sort((a, b) => a.data.sequence - b.data.sequence);
    expect(ordered.map((p) => p.data.status)).toEqual(['INVOKED', 'RECORDING', 'UPLOADING', 'UPLOADED']);
    expect(ordered.map((p) => p.data.sequence)).toEqual([1, 2, 3, 4]);
    expect(ordered.map((p) => p.data.previousStatus)).toEqual([null, 'INVOKED', 'RECORDING', 'UPLOADING']);
    const uploaded = ordered.at(-1)!.data;
    expect(uploaded.recording.files).toEqual(done.files);
    expect(uploaded.recording.files![0]).toMatchObject({ format: 'mp4', sizeBytes: expect.any(Number), durationSeconds: expect.any(Number) });
    expect(uploaded.recording.files![0]!.durationSeconds).toBeGreaterThan(3);
    expect(uploaded.recording.stopReason).toBe('api');

    // The customer rule saw exactly the UPLOADED event, with the same detail the webhook carried.
    expect(ruled.map((e) => e.detail.status)).toEqual(['UPLOADED']);
    expect(ruled[0]!.detail).toEqual(uploaded);
    expect(ruled[0]!.resources).toEqual([`recording/${id}`]);
  });
});
