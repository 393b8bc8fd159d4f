/**
 * Moving the grab phase mid-recording (FfmpegCapture.rephase): real Xvfb, PulseAudio and ffmpeg. A second
 * encoder starts with the new phase and takes over at its first frame; the file must stay one continuous
 * recording (as long as the wall time, no overlap, at most a short hold of one picture at the takeover),
 * and the new encoder must grab at the new phase.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';
import { FfmpegCapture, type FrameClock } from '../../recorder-image/src/ffmpeg-capture.ts';
import { createLogger } from '../../recorder-image/src/log.ts';
import { readCpuTicks, stealPercent } from '../../bench/cpu-steal.ts';

const run = promisify(execFile);
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

async function videoPts(file: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'default=nw=1:nk=1', file], { maxBuffer: 1 << 24 });
  return stdout.split('\n').filter((l) => /^[\d.]+$/.test(l)).map(Number);
}

describe('moving the grab phase while recording', () => {
  it('hands over to an encoder with the new phase, and the file stays one continuous recording', async () => {
    // The browser gave no frame clock at the start (it is measured again later): the first run grabs on a
    // plain grid, not phase-locked, and the move puts the grabs in step with the clock measured since.
    // The log says where each encoder run starts in the file (the splicer's 'encoder run placed').
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ service: 'test' }, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const capture = new FfmpegCapture(
      {
        ...av,
        width: 640,
        height: 360,
        fps: 30,
        x264Preset: 'ultrafast',
        videoMaxBitrateKbps: 1000,
      },
      log,
    );
    const chunks: Buffer[] = [];
    capture.output.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => capture.output.once('end', r));
    capture.confirmUntil(Number.MAX_SAFE_INTEGER);
    // A vCPU the hypervisor does not schedule stalls the grabs too: one run here held a picture 167 ms, in a
    // session where the bench measured 17-38 % steal. The failure message says how much there was.
    const ticks = readCpuTicks();
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
      // The new run's first grab (x11grab's own stamp) fell at the place, give or take the gate's few ms (a
      // new encoder that landed further off was replaced before it took over; on an idle machine they land).
      const gate = capture.gate!;
      expect(gate.firstGrabInSlotMs).toBeGreaterThanOrEqual(7);
      expect(gate.firstGrabInSlotMs).toBeLessThan(9 + 8);
      await new Promise((r) => setTimeout(r, 1500));
      const stopMs = Date.now();
      await capture.stop({ atMs: stopMs, drainTimeoutMs: 3000 });
      await ended;
      const file = join(workDir, 'rephased.mp4');
      writeFileSync(file, Buffer.concat(chunks));
      const pts = await videoPts(file);
      const runs = lines.filter((l) => l.message === 'encoder run placed').map((l) => l.fileSeconds as number);
      expect(runs, 'one takeover').toHaveLength(2);
      const wallSeconds = (stopMs - startMs) / 1000;
      expect(wallSeconds).toBeGreaterThan(3);
      // One continuous picture track as long as the wall time: ~30 frames a second, none missing at the takeover.
      expect(pts.at(-1)! - pts[0]!).toBeGreaterThan(wallSeconds - 0.3);
      expect(pts.at(-1)! - pts[0]!).toBeLessThan(wallSeconds + 0.1);
      expect(pts.length).toBeGreaterThan(wallSeconds * 30 * 0.9);
      const gaps = pts.slice(1).map((t, i) => ({ at: pts[i]!, ms: (t - pts[i]!) * 1000 }));
      const steal = stealPercent(ticks, readCpuTicks());
      const long = `CPU steal ${steal === undefined ? 'unknown' : `${steal.toFixed(1)} %`}; runs at ${JSON.stringify(runs)} s; gaps over 40 ms (at s: ms): ${gaps.filter((g) => g.ms > 40).map((g) => `${g.at.toFixed(3)}: ${g.ms.toFixed(0)}`).join(', ')}`;
      // The new encoder's first picture is held for up to ~0.1 s (measured 96 ms; the file's first picture
      // has the same hold, ~57 ms): one such hold at each start, none longer, and no picture twice.
      const atStart = (g: { at: number }) => runs.some((s) => Math.abs(g.at - (pts[0]! + s)) < 0.05);
      expect(Math.max(...gaps.map((g) => g.ms)), long).toBeLessThan(150);
      expect(gaps.filter((g) => g.ms > 60 && atStart(g)).length, long).toBeLessThanOrEqual(2);
      // Elsewhere a picture may be held for one slot whose grab came late (~67 ms), as on a loaded machine:
      // under the suite's load this test once saw three holds over 60 ms, where it allowed two in all.
      expect(gaps.filter((g) => g.ms > 60 && !atStart(g)).every((g) => g.ms < 85), long).toBe(true);
      expect(gaps.filter((g) => g.ms > 60 && !atStart(g)).length, long).toBeLessThanOrEqual(2);
      expect(Math.min(...gaps.map((g) => g.ms)), long).toBeGreaterThan(1);
    } finally {
      capture.close();
    }
  }, 60_000);
});
