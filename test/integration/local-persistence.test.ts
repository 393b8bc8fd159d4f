/** Local mode keeps its data across restarts, and a recording orphaned by a restart never stays live. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort } from '../support/net.ts';
import { newRecording } from '../../functions/core/recording.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';
import { RecordingApiClient } from '../../local/api-client.ts';
import { LOCAL_TENANT_ID, readSavedApiKey } from '../../local/local-credentials.ts';
import { startLocalStack } from '../../local/local-stack.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'mr-persist-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('local mode across a restart', () => {
  it('keeps finished recordings and ends the ones that were live', async () => {
    // Prepare: one finished and one live recording, then stop local mode.
    const first = await startLocalStack({ dataDir, port: 0 });
    const now = new Date().toISOString();
    const done = { ...newRecording({ id: newRecordingId(), tenantId: LOCAL_TENANT_ID, meetingId: 'm', meetingUrl: 'https://meet.example/a', now }), status: 'UPLOADED' as const };
    const live = { ...newRecording({ id: newRecordingId(), tenantId: LOCAL_TENANT_ID, meetingId: 'm', meetingUrl: 'https://meet.example/b', now }), status: 'RECORDING' as const };
    await first.repository.create(done);
    await first.repository.create(live);
    await first.stop();

    // Act: start again on the same data.
    const second = await startLocalStack({ dataDir, port: 0 });
    try {
      const api = new RecordingApiClient(second.url, second.apiKey);
      // Assess: the same API key still works, and the data survived
      expect(second.apiKeyCreated).toBe(false);
      expect(second.apiKey).toBe(first.apiKey);
      expect(readSavedApiKey(dataDir)).toBe(first.apiKey);
      expect((await api.get(done.id)).body).toMatchObject({ id: done.id, status: 'UPLOADED' });
      const orphan = (await api.get(live.id)).body;
      expect(orphan.status).toBe('ERRORED');
      expect(orphan.error?.code).toBe('recorder_lost');
    } finally {
      await second.stop();
    }
  });

  it('delivers, after a restart, the webhook deliveries that were still waiting for a retry', async () => {
    // Prepare: a subscription to a receiver that is down, and a status event for it.
    const port = await closedPort();
    const first = await startLocalStack({ dataDir, port: 0, allowedHosts: ['127.0.0.1'] });
    const api = new RecordingApiClient(first.url, first.apiKey);
    const sub = await api.request('POST', '/v1/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: ['UPLOADED'] });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const r = newRecording({ id: newRecordingId(), tenantId: LOCAL_TENANT_ID, meetingId: 'm', meetingUrl: 'https://meet.example/c', now: new Date().toISOString() });
    await first.repository.create(r);
    let latest = await first.repository.transition(r, 'RECORDING');
    latest = await first.repository.transition(latest, 'UPLOADING');
    await first.repository.transition(latest, 'UPLOADED');
    let pending: any[] = [];
    for (let i = 0; i < 100 && !pending.some((d) => d.attemptCount >= 1); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      pending = (await api.request('GET', `/v1/webhooks/${sub.body.id}/deliveries`)).body.items ?? [];
    }
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ state: 'pending', nextAttemptAt: expect.any(String) });
    await first.stop();

    // Act: the receiver comes up, then local mode starts again on the same data.
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c)).on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    const second = await startLocalStack({ dataDir, port: 0, allowedHosts: ['127.0.0.1'] });
    try {
      // Assess: the retry fires from the stored delivery (its backoff is seconds), and succeeds once.
      const api2 = new RecordingApiClient(second.url, second.apiKey);
      let state = 'pending';
      for (let i = 0; i < 200 && state !== 'succeeded'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        state = (await api2.request('GET', `/v1/webhooks/${sub.body.id}/deliveries`)).body.items?.[0]?.state;
      }
      expect(state).toBe('succeeded');
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0]!).data).toMatchObject({ recordingId: r.id, status: 'UPLOADED' });
    } finally {
      await second.stop();
      receiver.close();
    }
  }, 60_000);
});
