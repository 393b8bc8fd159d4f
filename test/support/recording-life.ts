/** A whole recording life written through the real repository (every writer's path), with no recorder. */
import { newRecording, type Recording } from '../../functions/core/recording.ts';
import type { RecordingRepository } from '../../functions/core/recording-repository.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';

/** INVOKED -> RECORDING -> PAUSED -> RECORDING -> UPLOADING -> UPLOADED (with a file): sequences 1 to 6. */
export const WHOLE_LIFE = ['INVOKED', 'RECORDING', 'PAUSED', 'RECORDING', 'UPLOADING', 'UPLOADED'] as const;

export async function recordWholeLife(repository: RecordingRepository, tenantId: string, meetingId = 'weekly-standup', upTo: number = WHOLE_LIFE.length): Promise<Recording> {
  const now = () => new Date().toISOString();
  let r = newRecording({ id: newRecordingId(), tenantId, meetingId, meetingUrl: 'https://meet.example.com/standup', now: now() });
  await repository.create(r);
  const steps: [Recording['status'], Parameters<RecordingRepository['transition']>[2]][] = [
    ['RECORDING', { startedAt: now() }],
    ['PAUSED', {}],
    ['RECORDING', {}],
    ['UPLOADING', { stoppedAt: now(), stopReason: 'api' }],
    ['UPLOADED', { files: [{ key: `recordings/${tenantId}/${r.id}/recording.mp4`, sizeBytes: 1234, durationSeconds: 5.5, format: 'mp4' }] }],
  ];
  for (const [status, patch] of steps.slice(0, upTo - 1)) r = await repository.transition(r, status, patch);
  return r;
}

export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<Exclude<T, false | undefined | null | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Exclude<T, false | undefined | null | 0 | "">;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
