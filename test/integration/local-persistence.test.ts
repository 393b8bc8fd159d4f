/** Local mode keeps its data across restarts, and a recording orphaned by a restart never stays live. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
});
