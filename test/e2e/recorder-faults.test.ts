/**
 * Faults caused for real on the local stack: the recorder process gets SIGTERM (what ECS StopTask sends)
 * or SIGKILL (a crashed task). A recording always ends; it never stays RECORDING.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probe } from '../support/media.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { watchStalls } from '../support/stalls.ts';

const run = promisify(execFile);

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

  it('SIGKILL: missed heartbeats end it ERRORED (recorder_lost); what was streamed is salvaged as a partial file that plays', async () => {
    const { id, recorder } = await startRecording('sigkill');
    const stalls = watchStalls();
    await sleep(12_000);
    const live = await t.api.get(id);
    const killedAt = Date.now();
    recorder.kill('SIGKILL');
    const ran = stalls.stop();
    const done = await t.api.waitFor(id, ['ERRORED'], 30_000);
    expect(done.status).toBe('ERRORED');
    expect(done.error?.code).toBe('recorder_lost');
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    await sleep(200);
    expect(groupAlive(recorder.pid!)).toBe(false);

    // The salvaged file: listed, marked partial, and it plays up to at most 10 s before the kill.
    expect(done.files).toHaveLength(1);
    expect(done.files![0].partial).toBe(true);
    const recordedBeforeKill = (killedAt - Date.parse(live.body.startedAt!)) / 1000;
    const path = join(t.dataDir, 'salvaged.mp4');
    const links = await t.api.download(id);
    expect(links.status).toBe(200);
    writeFileSync(path, Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer()));
    const media = await probe(path);
    expect(media.video?.codec).toBe('h264');
    expect(media.audio?.codec).toBe('aac');
    expect(media.durationSeconds).toBeGreaterThanOrEqual(recordedBeforeKill - 10);
    expect(media.durationSeconds).toBeLessThanOrEqual(recordedBeforeKill + 1);
    // Every frame decodes: a truncated fragment would leave fewer frames than the duration implies (of
    // the time the machine ran: a stall's grabs are missing).
    expect(media.video!.frames, `the machine ${ran.text}`).toBeGreaterThanOrEqual(Math.floor(media.durationSeconds * ran.ran * 30 * 0.9));
    // The pending segments were folded into the file and removed.
    const { stdout } = await run('find', [t.dataDir, '-path', '*.pending*', '-type', 'f']);
    expect(stdout.trim()).toBe('');
  });
});
