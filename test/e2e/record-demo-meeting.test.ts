/**
 * End to end on the local stack: the real API, DynamoDB/S3 emulators over HTTP, the deployed ASL on the
 * local Step Functions runner, and the recorder process with Xvfb, PulseAudio, Chromium and ffmpeg.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { meanVolumeDb, probe } from '../support/media.ts';
import { assertValidEmf, readRecorderLog } from '../support/recorder-log.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { watchStalls } from '../support/stalls.ts';

let t: TestStack;
let s3: S3Client;
beforeAll(async () => {
  t = await startTestStack();
  s3 = new S3Client({ endpoint: t.stack.emulators.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
});
afterAll(async () => {
  await t?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



describe('recording the demo meeting end to end', () => {
  it('records ~5 s into an H.264/AAC MP4 in S3, downloadable through a presigned URL', async () => {
    // Prepare / Act: POST, wait for RECORDING, record about 5 s, stop.
    const postedAt = Date.now();
    const created = await t.api.create(t.stack.demoUrl, 'e2e-demo');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^rec_/), meetingId: 'e2e-demo', meetingUrl: t.stack.demoUrl, status: 'INVOKED', createdAt: expect.any(String) });
    expect(created.headers.get('location')).toBe(`/v1/recordings/${created.body.id}`);
    const id = created.body.id;

    const live = await t.api.waitFor(id, ['RECORDING'], 30_000, 50);
    expect(live.status).toBe('RECORDING');
    const postToRecordingMs = Date.now() - postedAt;
    const stalls = watchStalls();
    await sleep(5000);
    const stopAt = Date.now();
    const ran = stalls.stop();
    const stop = await t.api.stop(id);
    expect(stop.status).toBe(202);
    const second = await t.api.stop(id);
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('stop_in_progress');

    const seen = new Set<string>();
    let done;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
      done = (await t.api.get(id)).body;
      seen.add(done.status);
      if (done.status === 'UPLOADED' || done.status === 'ERRORED') break;
    }
    const stopToUploadedMs = Date.now() - stopAt;

    // Assess: the recording, its file, and the bytes in S3.
    expect(done!.status, JSON.stringify(done!.error)).toBe('UPLOADED');
    expect(done!.stopReason).toBe('api');
    expect(done!.files).toHaveLength(1);
    const file = done!.files![0];
    expect(file).toMatchObject({ key: expect.stringContaining(id), format: 'mp4', sizeBytes: expect.any(Number), durationSeconds: expect.any(Number) });

    const object = await s3.send(new GetObjectCommand({ Bucket: t.stack.bucketName, Key: file.key }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    expect(bytes.length).toBe(file.sizeBytes);
    const dir = mkdtempSync(join(tmpdir(), 'mr-e2e-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'recording.mp4');
    writeFileSync(path, bytes);
    const media = await probe(path);
    expect(media.video).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    // 30 fps on average. While the other test files load both cores, a few 1/30 s slots get no grab
    // (28.95 fps was seen), hence 28.5, of the time the machine ran (a stall's grabs are missing); a
    // capture at the wrong rate would be far off.
    expect(media.video!.fps, `the machine ${ran.text}`).toBeGreaterThan(28.5 * ran.ran);
    expect(media.video!.fps).toBeLessThan(31);
    expect(media.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(await meanVolumeDb(path)).toBeGreaterThan(-60); // the demo's tone and beeps, not silence

    const recordedSeconds = (stopAt - Date.parse(done!.startedAt!)) / 1000;
    expect(Math.abs(media.durationSeconds - recordedSeconds)).toBeLessThan(1);
    expect(Math.abs(file.durationSeconds - media.durationSeconds)).toBeLessThan(0.5);

    const links = await t.api.download(id);
    expect(links.status).toBe(200);
    expect(links.body.files[0]).toMatchObject({ key: file.key, url: expect.stringContaining('X-Amz-Signature='), expiresAt: expect.any(String) });
    expect(new URL(links.body.files[0].url).searchParams.get('X-Amz-Expires')).toBe('3600');
    const downloaded = Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer());
    expect(downloaded.equals(bytes)).toBe(true);

    // The recorder's log: JSON lines with the correlation keys, and EMF metrics that count the file's frames.
    const lines = await readRecorderLog(t.dataDir, id);
    const recorderLines = lines.filter((line) => line.service === 'recorder');
    expect(recorderLines.length).toBeGreaterThan(5);
    for (const line of recorderLines) {
      expect(line).toMatchObject({ level: expect.stringMatching(/^(INFO|WARN|ERROR)$/), message: expect.any(String), timestamp: expect.any(String), recordingId: id });
    }
    expect(recorderLines.find((line) => line.message === 'recording')).toMatchObject({ tenantId: 'local' });
    const emf = recorderLines.filter((line) => line._aws !== undefined);
    expect(emf.length).toBeGreaterThan(0);
    for (const doc of emf) {
      expect(assertValidEmf(doc)).toMatchObject({ Namespace: 'MeetingRecorder', Dimensions: [['service']] });
      expect(doc).toMatchObject({ recordingId: id, tenantId: 'local' });
    }
    expect(emf.at(-1)).toMatchObject({ final: true });
    const framesCaptured = emf.reduce((n, doc) => n + (doc.FramesCaptured as number), 0);
    expect(framesCaptured).toBeGreaterThan(0);
    // ffmpeg's count of what it encoded: every frame of the file, plus the few it encoded past the stop
    // instant before it ended, which the file leaves out (3 s of frames is a generous bound under load).
    expect(framesCaptured).toBeGreaterThan(media.video!.frames * 0.9);
    expect(framesCaptured).toBeLessThanOrEqual(media.video!.frames + 3 * 30);
    // Pending segments go up every 3 s: with S3 up, what a crash would lose stays within seconds.
    for (const doc of emf) expect(doc.UploadLagSeconds as number).toBeLessThan(15);

    console.log(JSON.stringify({ figure: 'e2e', postToRecordingMs, stopToUploadedMs, recordedSeconds, fileSeconds: media.durationSeconds }));
  });

});
