/**
 * Faults caused for real on the local stack: the recorder process gets SIGTERM (what ECS StopTask sends)
 * or SIGKILL (a crashed task). A recording always ends; it never stays RECORDING.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';

let t: TestStack;
beforeAll(async () => {
  // A short heartbeat timeout so a lost recorder is noticed in seconds (the deployed value is 60 s).
  t = await startTestStack({ heartbeatSecondsOverride: 4, recorderEnv: { HEARTBEAT_INTERVAL_MS: '500' } });
});
afterAll(async () => {
  await t?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRecording(meetingId: string) {
  const created = await t.api.create(t.stack.demoUrl, meetingId);
  expect(created.status).toBe(201);
  const live = await t.api.waitFor(created.body.id, ['RECORDING'], 30_000);
  expect(live.status).toBe('RECORDING');
  const recorder = t.stack.recorders.running.get(created.body.id);
  expect(recorder?.pid).toBeGreaterThan(0);
  return { id: created.body.id, recorder: recorder! };
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('recorder faults', () => {
  it('SIGTERM (ECS StopTask) finalizes and uploads the file, with stopReason task_stopped', async () => {
    const { id, recorder } = await startRecording('sigterm');
    await sleep(3000);
    recorder.kill('SIGTERM');
    const done = await t.api.waitFor(id, ['UPLOADED'], 120_000);
    expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
    expect(done.stopReason).toBe('task_stopped');
    expect(done.files![0].durationSeconds).toBeGreaterThan(2);
    expect(done.files![0].sizeBytes).toBeGreaterThan(10_000);
  });

  it('SIGKILL: missed heartbeats end the recording ERRORED (recorder_lost), and no process is left behind', async () => {
    const { id, recorder } = await startRecording('sigkill');
    await sleep(1000);
    const killedAt = Date.now();
    recorder.kill('SIGKILL');
    const done = await t.api.waitFor(id, ['ERRORED'], 30_000);
    expect(done.status).toBe('ERRORED');
    expect(done.error?.code).toBe('recorder_lost');
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    await sleep(200);
    expect(groupAlive(recorder.pid!)).toBe(false);
  });
});
