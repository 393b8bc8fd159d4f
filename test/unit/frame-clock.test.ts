/**
 * Grabbing in step with the browser's frame clock: the clock read from requestAnimationFrame timestamps, and
 * the encoder arguments built from it (the slot rule ffmpeg's select filter applies).
 */
import { describe, expect, it } from 'vitest';
import { frameClockFromTicks } from '../../recorder-image/src/browser-source.ts';
import { defaultGrabPhaseMs, ffmpegArgs, GRABS_PER_FRAME, phaseLockedGrab, type CaptureOptions } from '../../recorder-image/src/ffmpeg-capture.ts';
import { loadRecorderConfig } from '../../recorder-image/src/config.ts';

const TICK = 1000 / 60;
/** rAF timestamps as Chromium gives them: on a 60 Hz grid, coarsened to 0.1 ms. */
const ticks = (first: number, n: number, jitter: (i: number) => number = () => 0) =>
  Array.from({ length: n }, (_, i) => Math.round((first + i * TICK + jitter(i)) * 10) / 10);

describe('frameClockFromTicks', () => {
  it('finds the interval and the phase of steady ticks to within 0.1 ms', () => {
    const origin = 1_795_000_000_123.25;
    const clock = frameClockFromTicks(origin, ticks(250.4, 13))!;
    expect(clock.intervalMs).toBeCloseTo(TICK, 1);
    // The last tick's wall time, on the grid through the first.
    const expected = origin + 250.4 + 12 * TICK;
    expect(Math.abs(clock.tickWallMs - expected)).toBeLessThan(0.1);
  });

  it('is not thrown off by one late callback', () => {
    const clock = frameClockFromTicks(0, ticks(100, 13, (i) => (i === 6 ? 3 : 0)))!;
    const phase = (((clock.tickWallMs - 100) % TICK) + TICK) % TICK;
    expect(Math.min(phase, TICK - phase)).toBeLessThan(0.5);
  });

  it('gives no clock for ticks that are not steady (a skipped frame, too few ticks, or no ticks at all)', () => {
    const skipped = ticks(100, 13);
    skipped.splice(5, 1);
    expect(frameClockFromTicks(0, skipped)).toBeUndefined();
    expect(frameClockFromTicks(0, ticks(100, 3))).toBeUndefined();
    expect(frameClockFromTicks(0, [])).toBeUndefined();
    expect(frameClockFromTicks(0, [5, 5, 5, 5, 5])).toBeUndefined();
  });
});

const base: CaptureOptions = {
  display: ':5',
  pulseServer: 'unix:/tmp/p',
  audioSource: 'recorder.monitor',
  width: 1280,
  height: 720,
  fps: 30,
  x264Preset: 'veryfast',
  videoMaxBitrateKbps: 3000,
  timelineBaseSeconds: 1_795_000_000,
  startAtSeconds: 2.1,
};
const arg = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('phase-locked grab', () => {
  it('grabs three times per frame and keeps the first grab of each slot, slots starting the grab phase after a tick', () => {
    const clock = { tickWallMs: 1_795_000_001_000.5, intervalMs: TICK };
    const grab = phaseLockedGrab({ ...base, frameClock: clock })!;
    expect(grab.grabRate).toBe(30 * GRABS_PER_FRAME);
    expect(grab.slotOriginSeconds).toBeCloseTo(1.0005 + defaultGrabPhaseMs(1280, 720) / 1000, 6);
    const args = ffmpegArgs({ ...base, frameClock: clock, grabPhaseMs: 4 });
    expect(arg(args, '-framerate')).toBe('90');
    expect(arg(args, '-vf')).toContain(`floor((t-1.004500)*30)`);
    expect(arg(args, '-vf')).toContain('prev_selected_t');
    // The nominal output rate stays the frame rate (the H.264 level), with no frame-rate conversion.
    expect(arg(args, '-r')).toBe('30');
    expect(arg(args, '-fps_mode')).toBe('passthrough');
  });

  it('falls back to grabbing at the frame rate without a clock, or when a slot is not a whole number of ticks', () => {
    for (const o of [base, { ...base, frameClock: { tickWallMs: 0, intervalMs: 1000 / 45 } }]) {
      expect(phaseLockedGrab(o)).toBeUndefined();
      const args = ffmpegArgs(o);
      expect(arg(args, '-framerate')).toBe('30');
      expect(arg(args, '-vf')).toContain('gte(t-prev_selected_t');
    }
  });

  it('places the grab later in the tick for larger pictures (they reach the screen later)', () => {
    expect(defaultGrabPhaseMs(1280, 720)).toBeCloseTo(1, 6);
    expect(defaultGrabPhaseMs(1920, 1080)).toBeCloseTo(3.5, 6);
    expect(defaultGrabPhaseMs(640, 360)).toBeCloseTo(1, 6);
  });

  it('GRAB_PHASE_MS overrides the phase; a value that is not a duration is refused with a clear message', () => {
    const env = { RECORDING_ID: 'r', TABLE_NAME: 't', BUCKET_NAME: 'b' };
    expect(loadRecorderConfig({ ...env, GRAB_PHASE_MS: '2.5' }).grabPhaseMs).toBe(2.5);
    expect(loadRecorderConfig(env).grabPhaseMs).toBeUndefined();
    expect(() => loadRecorderConfig({ ...env, GRAB_PHASE_MS: 'soon' })).toThrow(/GRAB_PHASE_MS must be a number of milliseconds/);
    expect(() => loadRecorderConfig({ ...env, GRAB_PHASE_MS: '-1' })).toThrow(/GRAB_PHASE_MS/);
  });
});
