/**
 * Faults in the middle of a recording, caused for real: the page's renderer process is killed, the whole
 * browser is killed, the page hangs in a busy loop, and S3 goes away for 20 s. In each case the recording
 * continues into the same file and ends UPLOADED, with nothing lost (the file is as long as the recording)
 * and the browser gaps listed.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants } from '../support/processes.ts';
import { gapsBetween, probe, videoFrameTimes } from '../support/media.ts';
import { readRecorderLog } from '../support/recorder-log.ts';
import { LIVELY_PAGE, startHttpServer, type TestServer } from '../support/servers.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { watchStalls } from '../support/stalls.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestStack;
let pages: TestServer;
const loads = new Map<string, number>();
beforeAll(async () => {
  t = await startTestStack({ recorderEnv: { PAGE_HANG_TIMEOUT_MS: '3000' } });
  // /hang-once: the first load of the page freezes its main thread after 2 s; later loads are healthy.
  pages = await startHttpServer((req, res) => {
    const count = (loads.get(req.url!) ?? 0) + 1;
    loads.set(req.url!, count);
    const hang = req.url!.startsWith('/hang-once') && count === 1 ? '<script>setTimeout(() => { for (;;) {} }, 2000)</script>' : '';
    res.writeHead(200, { 'content-type': 'text/html' }).end(LIVELY_PAGE.replace('</body>', `${hang}</body>`));
  });
});
afterAll(async () => {
  await pages?.close();
  await t?.stop();
});

async function startRecording(path: string) {
  const created = await t.api.create(`${pages.url}${path}`, path.slice(1));
  expect(created.status).toBe(201);
  const live = await t.api.waitFor(created.body.id, ['RECORDING'], 30_000);
  expect(live.status).toBe('RECORDING');
  return { id: created.body.id, recorderPid: t.stack.recorders.running.get(created.body.id)!.pid! };
}

async function stopAndFetch(id: string, name: string) {
  const stopAt = Date.now();
  expect((await t.api.stop(id)).status).toBe(202);
  const done = await t.api.waitFor(id, ['UPLOADED', 'ERRORED'], 120_000);
  expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
  const links = await t.api.download(id);
  const path = join(t.dataDir, `${name}.mp4`);
  writeFileSync(path, Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer()));
  return { done, path, recordedSeconds: (stopAt - Date.parse(done.startedAt!)) / 1000 };
}

/** Mean volume (dB) of the last `seconds` of the file: the page's tone is back after a recovery. */
async function tailVolumeDb(path: string, seconds: number): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-sseof', `-${seconds}`, '-i', path, '-vn', '-af', 'volumedetect', '-f', 'null', '-']);
  return Number(/mean_volume: (-?[\d.]+) dB/.exec(stderr)![1]);
}

/** One continuous file, as long as the recording (gap included), with the page's tone back at its end. */
async function expectContinuedAfterGap(path: string, recordedSeconds: number) {
  const media = await probe(path);
  expect(Math.abs(media.durationSeconds - recordedSeconds)).toBeLessThan(1.5);
  expect(await tailVolumeDb(path, 2)).toBeGreaterThan(-40);
}

describe('recorder resilience', () => {
  it.each([
    ['the page renderer is killed', (pid: number) => descendants(pid).filter((p) => p.cmdline.includes('--type=renderer')), 'the page crashed'],
    ['the whole browser is killed', (pid: number) => descendants(pid).filter((p) => /chromium/.test(p.cmdline) && !p.cmdline.includes('--type=')), 'the browser exited'],
  ])('%s: the page is reloaded into the same recording and the gap is listed', async (label, victims, reason) => {
    const { id, recorderPid } = await startRecording(`/crash-${label.length}`);
    await sleep(3000);
    const targets = victims(recorderPid);
    expect(targets.length).toBeGreaterThan(0);
    for (const p of targets) process.kill(p.pid, 'SIGKILL');
    await sleep(6000);
    const { done, path, recordedSeconds } = await stopAndFetch(id, `crash-${label.length}`);

    expect(done.gaps).toHaveLength(1);
    expect(done.gaps![0]).toMatchObject({ reason, offsetSeconds: expect.any(Number), durationSeconds: expect.any(Number) });
    expect(done.gaps![0].offsetSeconds).toBeGreaterThan(2);
    expect(done.gaps![0].durationSeconds).toBeLessThan(10);
    await expectContinuedAfterGap(path, recordedSeconds);
  });

  it('the page hangs (busy main thread): the watchdog notices, reloads, and the gap is listed', async () => {
    const { id } = await startRecording('/hang-once');
    await sleep(10_000);
    const { done, path, recordedSeconds } = await stopAndFetch(id, 'hang');
    expect(loads.get('/hang-once')).toBe(2);
    expect(done.gaps).toHaveLength(1);
    expect(done.gaps![0].reason).toMatch(/did not respond/);
    await expectContinuedAfterGap(path, recordedSeconds);
  });

  it('S3 is down for 20 s mid-recording: uploads retry from the buffer and nothing is lost', async () => {
    const { id } = await startRecording('/s3-outage');
    const stalls = watchStalls();
    await sleep(3000);
    await t.stack.emulators.stopS3();
    await sleep(20_000);
    await t.stack.emulators.startS3();
    await sleep(3000);
    const ran = stalls.stop();
    const { done, path, recordedSeconds } = await stopAndFetch(id, 's3-outage');
    expect(recordedSeconds).toBeGreaterThan(25);
    const media = await probe(path);
    expect(Math.abs(media.durationSeconds - recordedSeconds)).toBeLessThan(1.5);
    // Every second of it decodes: no hole where S3 was away. Not every frame: on a loaded machine grabs
    // come late and some slots have none (633 frames of ~786 once, with 15 % CPU steal over the suite),
    // but none is missing for long: a hole where S3 was away would be seconds long, and a virtual machine
    // that the hypervisor stalls leaves gaps of its own of up to ~0.5 s (0.516 s once at 12 % CPU steal),
    // or as long as the machine stood still.
    const times = await videoFrameTimes(path);
    const seen = `${times.length} frames in ${recordedSeconds.toFixed(1)} s; the machine ${ran.text}`;
    expect(Math.max(...gapsBetween(times).map((g) => g.seconds)), `longest gap between pictures (s); ${seen}`).toBeLessThan(1 + ran.longestStallMs / 1000);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(recordedSeconds - 1.5);
    expect(media.video!.frames).toBe(times.length);
    expect(media.video!.frames, seen).toBeGreaterThanOrEqual(Math.floor(recordedSeconds * ran.ran * 30 * 0.75));
    expect(done.files![0].partial).toBeUndefined();
    // The recorder really met the outage (its own figures, kept on the item).
    const metrics = (await t.stack.repository.find(id))!.metrics!;
    expect(metrics.uploadRetries).toBeGreaterThan(0);
    expect(metrics.uploadLongestOutageMs).toBeGreaterThan(15_000);
    // Its CloudWatch metrics (EMF lines in its log) show the outage as upload lag: media not in S3 yet.
    const log = await readRecorderLog(t.dataDir, id);
    // The page repaints ten times a second: each 0.4 s watch of it sees at most 4 pictures, too few to
    // place (MIN_ARRIVALS), and the recorder says so (once, then every 12th such watch in a row).
    const unseen = log.filter((line) => line.message === 'pictures not seen');
    expect(unseen.length).toBeGreaterThanOrEqual(1);
    expect(unseen[0]).toMatchObject({ watches: 1 });
    expect(unseen[0]!.arrivals as number).toBeLessThan(5);
    // A stall of the machine holds the page's repaints back and lets them through together, and a watch
    // then can see five (one did in a suite run with both cores frozen now and then): at most one per stall.
    const placed = log.filter((line) => line.message === 'pictures reach the screen');
    expect(placed.length, `watches that placed pictures: ${placed.map((l) => JSON.stringify(l.inSlotMs)).join('; ')}; the machine ${ran.text}`).toBeLessThanOrEqual(ran.stallCount);
    const emf = log.filter((line) => line._aws !== undefined);
    expect(emf.length).toBeGreaterThan(0);
    expect(Math.max(...emf.map((doc) => doc.UploadLagSeconds as number))).toBeGreaterThan(15);
    expect(Math.max(...emf.map((doc) => doc.UploadLagBytes as number))).toBeGreaterThan(0);
    expect(emf.reduce((n, doc) => n + (doc.UploadRetries as number), 0)).toBe(metrics.uploadRetries);
  });
});
