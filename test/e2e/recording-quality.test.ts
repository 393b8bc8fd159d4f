/**
 * The quality harness as a correctness check (the figures and their targets live in `npm run bench`):
 * ~30 s of the sync page recorded through the real local stack, then read back frame by frame and sample
 * by sample. Loose bounds: this catches a broken timeline (sound seconds off), a capture that stalls or
 * resamples, or a page that never plays; it does not time anything.
 */
import { statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseRecording } from '../../quality/analyse.ts';
import { ensureSyncMedia } from '../../quality/sync-media.ts';
import { startSyncPageServer, type SyncPageServer } from '../../quality/sync-page.ts';
import { RUN_START_ALLOWANCE_MS } from '#recorder/ffmpeg-capture.ts';
import { poolPictureTiming, type PictureTiming } from '#recorder/landing-probe.ts';
import { readRecorderLog } from '../support/recorder-log.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { watchStalls } from '../support/stalls.ts';

let t: TestStack;
let page: SyncPageServer;
beforeAll(async () => {
  const media = await ensureSyncMedia({ width: 1280, height: 720, fps: 30, durationSeconds: 90, cacheDir: join(tmpdir(), 'quality-media') });
  page = await startSyncPageServer({ mediaPath: media });
  t = await startTestStack();
});
afterAll(async () => {
  await page?.close();
  await t?.stop();
});

describe('recording quality (loose correctness bounds)', () => {
  it('30 s of the sync page: sound and picture in step, every second present, frames keep coming, grabbed in step with the browser', async () => {
    const stalls = watchStalls();
    const created = await t.api.create(page.url, 'quality');
    expect(created.status).toBe(201);
    const live = await t.api.waitFor(created.body.id, ['RECORDING'], 30_000);
    expect(live.status).toBe('RECORDING');
    await new Promise((r) => setTimeout(r, 30_000));
    expect((await t.api.stop(created.body.id)).status).toBe(202);
    const done = await t.api.waitFor(created.body.id, ['UPLOADED', 'ERRORED'], 60_000);
    const ran = stalls.stop();
    expect(done.status, JSON.stringify(done.error)).toBe('UPLOADED');
    const links = await t.api.download(created.body.id);
    const file = join(t.dataDir, 'quality.mp4');
    writeFileSync(file, Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer()));

    const q = await analyseRecording(file, { fps: 30 });
    console.log(JSON.stringify({ figure: 'quality-30s', offsetMs: q.avOffsetMeanMs, stdMs: q.avOffsetStdMs, driftMs: q.avDriftMs, repeatedPct: q.repeatedPct, skippedPct: q.skippedPct, stalledSeconds: ran.stalledSeconds, stealPct: ran.stealPercent }));
    // Every second is there: its flash and beep paired up, or its one-frame flash fell between two grabs
    // (a skipped frame, counted as such). The first second is never paired. Of the time the machine ran:
    // a stall takes seconds from the page and the capture alike (23 of 26 in a suite run at 16.6 % CPU
    // steal over the suite).
    const seconds = `${q.pairs} paired, ${q.missedFlashes} flashes not grabbed, ${q.unpairedFlashes} flashes with no beep, of source frames ${q.firstIndex}-${q.lastIndex}; ${q.beeps.length} beeps; the machine ${ran.text}`;
    expect(q.pairs + q.missedFlashes, seconds).toBeGreaterThanOrEqual(Math.floor(26 * ran.ran));
    expect(q.pairs, seconds).toBeGreaterThanOrEqual(Math.floor(15 * ran.ran));
    expect(q.unreadableFrames).toBeLessThan(q.analysedFrames * 0.01);
    // In step: the sound-picture offset is a few frames at most, not the 0.7 s of a split timeline. Within a
    // run it moves, without anything broken, by: a frame where the page's picture steps behind its sound
    // (33 ms at 16 s of a bench run at 0.1 % CPU steal, no grab move, beeps on their track); up to a slot at
    // a grab move (a picture grabbed at another age); ~10 ms as PulseAudio's stamps wander. So three frames
    // of drift (a 66 ms drift failed a suite run), and three more where the machine stood still for a
    // quarter second: with both cores frozen for 2 s, the flashes came 67 ms after their beeps for 4 s,
    // with no grab move, then back to 0 ms as Chromium dropped frames to catch up.
    const avTimeline = `offsets ${q.pairList.map((p) => `${p.flashTime.toFixed(1)} s: ${p.offsetMs.toFixed(0)}`).join(', ')}; the machine ${ran.text}`;
    expect(Math.abs(q.avOffsetMeanMs!), avTimeline).toBeLessThan(100);
    expect(Math.abs(q.avDriftMs!), avTimeline).toBeLessThan(100 + (ran.longestStallMs >= 250 ? 100 : 0));
    // The recorder read the browser's frame clock and grabbed in step with it (grabTimer).
    const log = await readRecorderLog(t.dataDir, created.body.id);
    const started = log.filter((l) => l.message === 'browser started');
    expect(started).toHaveLength(1);
    expect(started[0]!.frameIntervalMs as number).toBeCloseTo(1000 / 60, 0);
    // The encoder started once the clock was measured, so its first run grabbed in step from its first
    // frame (not on a plain grid until the first grab move), and its file started 0.8 s after its spawn.
    // (The first frame is the later of the planned start and x11grab's first grab, which waits for the gate.)
    const recording = log.find((l) => l.message === 'recording')!;
    const steps = recording.startup as Record<string, number>;
    expect(steps.frameClockMs).toBeLessThanOrEqual(steps.encoderSpawnedMs!);
    expect(recording.phaseLocked).toBe(true);
    const spawnToFirstFrameMs = (recording.startupMs as number) - steps.encoderSpawnedMs!;
    expect(spawnToFirstFrameMs).toBeGreaterThanOrEqual(RUN_START_ALLOWANCE_MS - 5);
    expect(spawnToFirstFrameMs).toBeLessThan(RUN_START_ALLOWANCE_MS + 900);
    // One grab per frame, each at one place in the browser's slot of two ticks, set by the gate; x11grab's
    // first grab (its own stamp) shows it. Read back from the file's frame times (wall clock, through each
    // encoder run's placement in the file), the first run's grabs sit at one place, a few ms later at most
    // under load. The first grab itself can come late, never early: x11grab takes it once it gets a CPU,
    // while the later grabs keep the timer's place (4 ms late in one suite run on a busy machine, 12 and 13
    // ms in suite runs at 17 and 23 % CPU steal). How late is the scheduler's, so only early is checked.
    const slotMs = 2 * (started[0]!.frameIntervalMs as number);
    const tickWallMs = started[0]!.tickWallMs as number;
    const gate = recording.gate as { firstGrabInSlotMs: number; lateMs: number };
    expect(gate.firstGrabInSlotMs).toBeGreaterThanOrEqual(0);
    const runs = log.filter((l) => l.message === 'encoder run placed');
    const firstRunEnds = (runs[1]?.fileSeconds as number | undefined) ?? Infinity;
    const offsets = q.frameSamples
      .filter((f) => f.pts < firstRunEnds)
      .map((f) => {
        const inSlot = ((((runs[0]!.zeroWallMs as number) + f.pts * 1000 - tickWallMs) % slotMs) + slotMs) % slotMs;
        const d = inSlot - gate.firstGrabInSlotMs;
        return d - Math.round(d / slotMs) * slotMs;
      });
    expect(offsets.length).toBeGreaterThan(20);
    const place = [...offsets].sort((x, y) => x - y)[Math.floor(offsets.length / 2)]!;
    const near = offsets.filter((d) => d >= place - 2 && d <= place + 8).length;
    expect(near / offsets.length, JSON.stringify(offsets.slice(0, 40))).toBeGreaterThan(0.7);
    // The first grab's stamp: at the grabs' place, or after it.
    expect(-place).toBeGreaterThanOrEqual(-2);
    // It watched the page's pictures and logged how steadily they came (pictureTiming): a 30 fps video
    // shows a picture about every 33 ms, so most intervals of a 0.4 s watch are counted and they sit
    // within a frame of the beat. Pooled over the watches: the first one, at the start, can place its 5
    // pictures with gaps between all of them and so carry no timing (seen with both cores busy).
    const watches = log.filter((l) => l.message === 'pictures reach the screen');
    expect(watches.length).toBeGreaterThanOrEqual(1);
    const timing = poolPictureTiming(watches.flatMap((w) => (w.timing ? [w.timing as PictureTiming] : [])))!;
    expect(timing).toBeDefined();
    expect(timing.intervals).toBeGreaterThanOrEqual(4);
    expect(timing.jitterMs).toBeGreaterThan(0);
    expect(timing.jitterMs).toBeLessThan(1000 / 30);
    expect(timing.offBeat).toBeLessThanOrEqual(timing.intervals);
    // Each watch says whether the page was settled (picturesSettled), which sets when it is watched again,
    // and what brought it: its schedule, or grabs that repeated their picture (REPEAT_TRIGGER).
    for (const w of watches) {
      expect(typeof w.settled).toBe('boolean');
      expect(['schedule', 'repeats']).toContain(w.after);
      if (w.after === 'repeats') expect(w.repeats as number).toBeGreaterThanOrEqual(3);
    }
    // The recorder counted its repeated frames from the encoded frames (FramesRepeated, repeated-grabs.ts):
    // about as many as the frame codes in the file show, runs of them included. Not those in the first
    // frames of each encoder run (REPEAT_SETTLE_FRAMES): at a grab move's takeover the new encoder's first
    // grabs can repeat the old one's last picture, so each takeover may leave a couple uncounted.
    const metrics = log.filter((l) => l.message === 'recorder metrics');
    expect(metrics.at(-1)?.final).toBe(true);
    const counted = metrics.reduce((n, l) => n + (l.FramesRepeated as number), 0);
    const takeovers = runs.length - 1;
    console.log(JSON.stringify({ figure: 'repeated-grabs', counted, inFile: q.repeatedFrames, takeovers }));
    const repeatsSeen = `${counted} counted, ${q.repeatedFrames} in the file, ${takeovers} takeovers; the machine ${ran.text}`;
    // More can be counted than the file keeps: a takeover cuts the old encoder's last frames from the file
    // (139 counted, 135 in the file, in a suite run with 5.6 s of stalls).
    expect(counted, repeatsSeen).toBeLessThanOrEqual(q.repeatedFrames + 3 + 30 * ran.stalledSeconds);
    // A stall of the machine can leave runs of repeats longer than the counter looks (REPEAT_REACH each
    // side): 19 of 39 counted in a suite run with 1.98 s of stalls. Up to a frame per stalled frame time.
    expect(counted, repeatsSeen).toBeGreaterThanOrEqual(0.8 * q.repeatedFrames - 3 - 2 * takeovers - 30 * ran.stalledSeconds);
    // The frame code advances. Loose on purpose: on a machine of its own the bench measures 0.2–0.3 %
    // repeated frames at 720p, but here the other test files load both cores, pictures reach the screen at
    // more scattered times, and up to 3.8 % was seen (with a fixed grab phase, up to 19 %). A stalled or
    // resampling capture would repeat far more.
    expect(q.repeatedPct).toBeLessThan(40);
    expect(q.skippedPct).toBeLessThan(40);
    expect(q.analysedFrames, `the machine ${ran.text}`).toBeGreaterThan(28 * ran.ran * 30);
    // The threads that draw and grab the pictures ran in real time (realtime-threads.ts): Xvfb's, the
    // browser's display compositor, the page's compositor and x11grab's in each encoder run. Found by the
    // names Chromium gives them, so a Chromium that renames them fails here. (Root has CAP_SYS_NICE.)
    const cpuLine = log.find((l) => l.message === 'cpu by process')!;
    if (process.getuid?.() === 0) {
      const raised = cpuLine.realtimeThreads as Record<string, number>;
      expect(raised.xvfb).toBe(1);
      expect(raised.browser).toBe(1);
      expect(raised.renderer).toBeGreaterThanOrEqual(1);
      // One grab thread per encoder: those placed in the file, and those started for a move that landed off
      // their place and were dropped (an encoder that lives less than a scan may be missed).
      const encoders = runs.length + log.filter((l) => l.message === 'grab landed off its place').length;
      expect(raised.ffmpeg, `${encoders} encoders`).toBeGreaterThanOrEqual(1);
      expect(raised.ffmpeg, `${encoders} encoders`).toBeLessThanOrEqual(encoders);
    }
    // Where the time from the stop to the last byte went ('stop phases'): its parts add up to no more than
    // the recorder's own figure, and the sizes are the file's.
    const phases = log.find((l) => l.message === 'stop phases')! as Record<string, number>;
    const recorded = (await t.stack.repository.find(created.body.id))!.metrics!;
    expect(phases.reportMs + phases.encoderMs + phases.uploadMs).toBeLessThanOrEqual(recorded.stopToUploadedMs!);
    expect(phases.completeMs).toBeLessThanOrEqual(phases.uploadMs);
    expect(phases.fileBytes).toBe(statSync(file).size);
    expect(phases.lastPartBytes).toBeGreaterThan(0);
    expect(phases.lastPartBytes).toBeLessThanOrEqual(phases.fileBytes);
  });
});
