/**
 * Moving the grab phase mid-recording (FfmpegCapture.rephase): real Xvfb, PulseAudio and ffmpeg. A second
 * encoder starts with the new phase and takes over at its first frame; the file must stay one continuous
 * recording (as long as the wall time, no overlap, at most a short hold of one picture at the takeover),
 * and the new encoder must grab at the new phase.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';
import { FfmpegCapture, LANDING_EARLY_MS, LANDING_LATE_MS, REPHASE_TRIES, type FrameClock } from '../../recorder-image/src/ffmpeg-capture.ts';
import { createLogger } from '../../recorder-image/src/log.ts';
import { gapsBetween, videoFrameTimes } from '../support/media.ts';
import { watchStalls } from '../support/stalls.ts';

let workDir: string;
let av: AvEnvironment;
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'rephase-'));
  av = await startAvEnvironment({ width: 640, height: 360, workDir });
});
afterAll(async () => {
  await av?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** A capture of the display with no frame clock (grabs on a plain 1/fps grid), its log lines and its output. */
function startCapture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ service: 'test' }, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const capture = new FfmpegCapture({ ...av, width: 640, height: 360, fps: 30, x264Preset: 'ultrafast', videoMaxBitrateKbps: 1000 }, log);
  const chunks: Buffer[] = [];
  capture.output.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => capture.output.once('end', r));
  capture.confirmUntil(Number.MAX_SAFE_INTEGER);
  return { lines, capture, chunks, ended };
}

describe('moving the grab phase while recording', () => {
  it('hands over to an encoder with the new phase, and the file stays one continuous recording', async () => {
    // The browser gave no frame clock at the start (it is measured again later): the first run grabs on a
    // plain grid, not phase-locked, and the move puts the grabs in step with the clock measured since.
    // The log says where each encoder run starts in the file (the splicer's 'encoder run placed').
    const { lines, capture, chunks, ended } = startCapture();
    // A machine that stands still stalls the grabs too: one run here held a picture 167 ms, in a session
    // where the bench measured 17-38 % steal. The bounds on frames and gaps make room for the stalls seen,
    // and the failure message says what they were.
    const stalls = watchStalls();
    try {
      await capture.firstFrame(15_000);
      const startMs = capture.firstFrameAtMs!;
      expect(capture.grabPhaseMs).toBeUndefined();
      expect(capture.phaseLocked).toBe(false);
      expect(capture.videoFilter).toContain('floor((t-0.000000)/0.033333333)');
      expect(capture.gate).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1500));
      const clock: FrameClock = { tickWallMs: Date.now(), intervalMs: 16.666 };
      expect(await capture.rephase(9, 15_000, 3000, clock)).toBe(true);
      // Its gate was planned early: by half a millisecond, or (after a new encoder that landed off its place)
      // by the median lateness seen so far, 0 to 8 ms.
      expect(capture.grabPhaseMs).toBeLessThanOrEqual(9);
      expect(capture.grabPhaseMs).toBeGreaterThanOrEqual(1);
      expect(capture.phaseLocked).toBe(true);
      // The new run's first grab (x11grab's own stamp) fell at the place: within 1 ms before it and 2.5 ms
      // after. A new encoder that landed further off was replaced before it took over, and logged so; on an
      // idle machine they land. Only the last of REPHASE_TRIES is kept wherever it lands (under the suite's
      // load one landed 2.6 ms early, another 12.6 ms late, after three others had missed).
      const gate = capture.gate!;
      const misses = lines.filter((l) => l.message === 'grab landed off its place');
      const landed = `first grab at ${gate.firstGrabInSlotMs} ms in the slot, after ${misses.length} landings off the place`;
      if (misses.length < REPHASE_TRIES - 1) {
        expect(gate.firstGrabInSlotMs, landed).toBeGreaterThanOrEqual(9 - LANDING_EARLY_MS - 0.001);
        expect(gate.firstGrabInSlotMs, landed).toBeLessThanOrEqual(9 + LANDING_LATE_MS + 0.001);
      }
      expect(misses.length, landed).toBeLessThanOrEqual(REPHASE_TRIES - 1);
      for (const m of misses) expect(Math.abs(m.offMs as number), landed).toBeGreaterThan(LANDING_EARLY_MS);
      await new Promise((r) => setTimeout(r, 1500));
      const stopMs = Date.now();
      await capture.stop({ atMs: stopMs, drainTimeoutMs: 3000 });
      await ended;
      const file = join(workDir, 'rephased.mp4');
      writeFileSync(file, Buffer.concat(chunks));
      const pts = await videoFrameTimes(file);
      const runs = lines.filter((l) => l.message === 'encoder run placed').map((l) => l.fileSeconds as number);
      expect(runs, 'one takeover').toHaveLength(2);
      // Where each run's first picture is among the file's frame times, and where the new one took over.
      const starts = runs.map((s) => pts[0]! + s);
      const takeover = starts[1]!;
      const wallSeconds = (stopMs - startMs) / 1000;
      const ran = stalls.stop();
      const stallMs = ran.longestStallMs;
      expect(wallSeconds).toBeGreaterThan(3);
      // One continuous picture track as long as the wall time: ~30 frames a second, none missing at the takeover.
      expect(pts.at(-1)! - pts[0]!).toBeGreaterThan(wallSeconds - 0.3 - stallMs / 1000);
      expect(pts.at(-1)! - pts[0]!).toBeLessThan(wallSeconds + 0.1);
      // ~30 frames a second in the new run, which grabs in the middle of its slots. Over the whole file, 112
      // of ~125 once, beside another test file's recording: the first run grabs on a plain grid (see
      // below), where a grab that comes late can leave a slot empty.
      const locked = pts.filter((t) => t >= takeover - 0.01);
      const gaps = gapsBetween(pts).map((g) => ({ at: g.at, ms: g.seconds * 1000 }));
      const long = `the machine ${ran.text}; runs at ${JSON.stringify(runs)} s; gaps over 40 ms (at s: ms): ${gaps.filter((g) => g.ms > 40).map((g) => `${g.at.toFixed(3)}: ${g.ms.toFixed(0)}`).join(', ')}`;
      const lockedSeconds = pts.at(-1)! - locked[0]!;
      expect(locked.length, `${locked.length} frames in ${lockedSeconds.toFixed(3)} s; ${long}`).toBeGreaterThan((lockedSeconds - ran.stalledSeconds) * 30 * 0.9);
      expect(pts.length, long).toBeGreaterThan(wallSeconds * ran.ran * 30 * 0.8);
      // The new encoder's first picture is held for up to ~0.1 s (measured 96 ms; the file's first picture
      // has the same hold, ~57 ms): one such hold at each start, none longer, and no picture twice.
      const atStart = (g: { at: number }) => starts.some((s) => Math.abs(g.at - s) < 0.05);
      expect(Math.max(...gaps.map((g) => g.ms)), long).toBeLessThan(150 + stallMs);
      expect(gaps.filter((g) => g.ms > 60 && atStart(g)).length, long).toBeLessThanOrEqual(2);
      // Elsewhere a picture may be held for one slot whose grab came late (~67 ms), as on a loaded machine.
      // The first run grabs on ffmpeg's own timer against a plain 1/30 s grid, so its grabs can sit at a
      // slot's edge, where a little lateness empties a slot: under the suite's load it held four pictures
      // this way in one run. The new run grabs in the middle of its slot, in step with the clock: at most two.
      const late = gaps.filter((g) => g.ms > 60 && !atStart(g));
      expect(late.every((g) => g.ms < 85 + stallMs), long).toBe(true);
      expect(late.filter((g) => g.at > takeover).length, long).toBeLessThanOrEqual(2 + ran.stallCount);
      expect(Math.min(...gaps.map((g) => g.ms)), long).toBeGreaterThan(1);
    } finally {
      capture.close();
    }
  }, 60_000);

  it('a move whose last new encoder landed off its place, where it may not be kept, leaves the running encoder grabbing', async () => {
    const { lines, capture, chunks, ended } = startCapture();
    try {
      await capture.firstFrame(15_000);
      await new Promise((r) => setTimeout(r, 1000));
      const clock: FrameClock = { tickWallMs: Date.now(), intervalMs: 16.666 };
      // No landing is accepted, and the last may not be kept.
      const seenLast: number[] = [];
      const moved = await capture.rephase(9, 15_000, 3000, clock, () => false, (landedMs) => (seenLast.push(landedMs), false));
      expect(moved).toBe(false);
      expect(seenLast).toHaveLength(1);
      const misses = lines.filter((l) => l.message === 'grab landed off its place');
      expect(misses.map((m) => m.attempt)).toEqual([1, 2, 3, REPHASE_TRIES]);
      expect(misses.at(-1)).toMatchObject({ kept: false, landedMs: seenLast[0] });
      // The first encoder goes on, still on its grid, and a later move can still take over.
      expect(capture.phaseLocked).toBe(false);
      expect(capture.grabPhaseMs).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1000));
      expect(await capture.rephase(9, 15_000, 3000, clock, () => true)).toBe(true);
      expect(capture.phaseLocked).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      await capture.stop({ atMs: Date.now(), drainTimeoutMs: 3000 });
      await ended;
      const file = join(workDir, 'kept-running.mp4');
      writeFileSync(file, Buffer.concat(chunks));
      const runs = lines.filter((l) => l.message === 'encoder run placed');
      expect(runs, 'the first run, then the second move\'s').toHaveLength(2);
      const pts = await videoFrameTimes(file);
      expect(pts.length).toBeGreaterThan(30);
    } finally {
      capture.close();
    }
  }, 60_000);
});
