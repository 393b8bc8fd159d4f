/**
 * Grabbing in step with the browser's frame clock: the clock read from requestAnimationFrame timestamps, and
 * the encoder arguments built from it (the slot rule ffmpeg's select filter applies).
 */
import { describe, expect, it } from 'vitest';
import { chromiumTickMs, frameClockFromTicks } from '../../recorder-image/src/browser-source.ts';
import { defaultGrabPhaseMs, ffmpegArgs, grabQueueSize, GRABS_PER_FRAME, phaseLockedGrab, slotClock, videoFilter, type CaptureOptions } from '../../recorder-image/src/ffmpeg-capture.ts';
import { loadRecorderConfig } from '../../recorder-image/src/config.ts';
import { arrivalsFromShowinfo, grabPhaseFromArrivals, picturesSettled, pictureTiming, poolPictureTiming, SETTLED_ROOM_MS, shouldMoveGrab, spanFit, STEADY_JITTER_MS } from '../../recorder-image/src/landing-probe.ts';

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

  it("snaps the interval to Chromium's whole-microsecond tick (16.666 ms at 60 Hz), so the slots do not slide", () => {
    expect(frameClockFromTicks(0, ticks(100, 13))!.intervalMs).toBe(16.666);
    expect(chromiumTickMs(16.6671)).toBe(16.666);
    expect(chromiumTickMs(16.66)).toBe(16.666);
    expect(chromiumTickMs(1000 / 50 + 0.004)).toBe(20);
    expect(chromiumTickMs(1000 / 75)).toBe(13.333);
    // Not near a whole rate: the fit stands.
    expect(chromiumTickMs(16.9)).toBe(16.9);
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
  it('grabs four times per frame and keeps the first grab of each slot, slots starting the grab phase after a tick', () => {
    const clock = { tickWallMs: 1_795_000_001_000.5, intervalMs: 16.666 };
    const grab = phaseLockedGrab({ ...base, frameClock: clock })!;
    expect(grab.slotOriginSeconds).toBeCloseTo(1.0005 + defaultGrabPhaseMs(1280, 720) / 1000, 6);
    // Two ticks per slot, on the browser's clock rather than 1/30 s.
    expect(grab.slotSeconds).toBeCloseTo(0.033332, 9);
    const args = ffmpegArgs(base);
    expect(GRABS_PER_FRAME).toBe(4);
    expect(arg(args, '-framerate')).toBe('120');
    const filter = videoFilter({ ...base, frameClock: clock, grabPhaseMs: 4 });
    expect(filter).toContain('floor((t-1.004500)/0.033332000)');
    expect(filter).toContain('floor((prev_selected_t-1.004500)/0.033332000)');
    expect(filter).toMatch(/^setpts=PTS-1795000000\/TB,select=/);
    // Never two kept grabs closer than 10 ms (they would share a millisecond timestamp).
    expect(filter).toContain('*gte(t-prev_selected_t,0.01)');
    // The filter reaches ffmpeg through a pipe, after its inputs are open.
    expect(arg(args, '-filter_script:v')).toBe('pipe:4');
    // The nominal output rate stays the frame rate (the H.264 level), with no frame-rate conversion.
    expect(arg(args, '-r')).toBe('30');
    expect(arg(args, '-fps_mode')).toBe('passthrough');
  });

  it('opens pulse before x11grab, and sizes the grab queue by memory (128 MiB of grabs, 16 to 64)', () => {
    for (const [width, height, queue] of [[1280, 720, 36], [1920, 1080, 16], [640, 360, 64], [3840, 2160, 16]] as const) {
      expect(grabQueueSize(width, height)).toBe(queue);
      const args = ffmpegArgs({ ...base, width, height });
      const inputs = args.flatMap((a, i) => (a === '-f' && args[i + 1] !== 'mp4' ? [args[i + 1]] : []));
      expect(inputs).toEqual(['pulse', 'x11grab']);
      expect(args[args.indexOf('x11grab') - 3]).toBe('-thread_queue_size');
      expect(args[args.indexOf('x11grab') - 2]).toBe(String(queue));
      expect(args.join(' ')).toContain('-map 1:v -map 0:a');
    }
  });

  it('falls back to a plain 1/fps grid without a clock, or when a slot is not a whole number of ticks', () => {
    for (const o of [base, { ...base, frameClock: { tickWallMs: 0, intervalMs: 1000 / 45 } }]) {
      expect(phaseLockedGrab(o)).toBeUndefined();
      expect(videoFilter(o)).toContain('floor((t-0.000000)/0.033333333)');
    }
  });

  it('places the grab later in the tick for larger pictures (they reach the screen later)', () => {
    expect(defaultGrabPhaseMs(1280, 720)).toBeCloseTo(2, 6);
    expect(defaultGrabPhaseMs(1920, 1080)).toBeCloseTo(4.5, 6);
    expect(defaultGrabPhaseMs(640, 360)).toBeCloseTo(2, 6);
  });

  it('GRAB_PHASE_MS overrides the phase; a value that is not a duration is refused with a clear message', () => {
    const env = { RECORDING_ID: 'r', TABLE_NAME: 't', BUCKET_NAME: 'b' };
    expect(loadRecorderConfig({ ...env, GRAB_PHASE_MS: '2.5' }).grabPhaseMs).toBe(2.5);
    expect(loadRecorderConfig(env).grabPhaseMs).toBeUndefined();
    expect(() => loadRecorderConfig({ ...env, GRAB_PHASE_MS: 'soon' })).toThrow(/GRAB_PHASE_MS must be a number of milliseconds/);
    expect(() => loadRecorderConfig({ ...env, GRAB_PHASE_MS: '-1' })).toThrow(/GRAB_PHASE_MS/);
  });
});

describe('where pictures reach the screen (landing-probe)', () => {
  const clock = { tickWallMs: 1_795_000_000_000, intervalMs: 16.666 };
  /** Pictures every other tick (30 fps video), arriving `landingMs` after the tick, with ±jitter. */
  const arrivals = (landingMs: number, n = 12, jitter = (i: number) => ((i % 3) - 1) * 0.8) =>
    Array.from({ length: n }, (_, i) => clock.tickWallMs + 2 * i * clock.intervalMs + landingMs + jitter(i));

  it('reads picture arrivals from showinfo lines: a changed row between grabs, once per picture across rows', () => {
    const line = (row: number, n: number, us: number, sum: string) =>
      `[Parsed_showinfo_${row} @ 0x55e3] n: ${n} pts:${us} pts_time:1.79525e+09 pos: -1 fmt:bgr0 sar:0/1 s:1280x1 i:P iskey:1 type:I checksum:${sum} plane_checksum:[${sum}] mean:[0] stdev:[0.0]`;
    const text = [
      line(0, 0, 1_000_000, 'AAAA0001'),
      line(0, 1, 1_001_000, 'AAAA0001'),
      line(0, 2, 1_002_000, 'BBBB0002'),
      line(1, 0, 1_000_100, '00000001'),
      line(1, 1, 1_001_100, '00000001'),
      line(1, 2, 1_002_100, '00000009'),
      // A stalled grabber (10 ms between grabs) places nothing.
      line(0, 3, 1_012_000, 'CCCC0003'),
    ].join('\n');
    const got = arrivalsFromShowinfo(text);
    expect(got).toHaveLength(1);
    expect(got[0]).toBeCloseTo(1001.5, 3);
  });

  it('puts the grab span in the part of the tick where no picture arrives', () => {
    const span = 1000 / 120;
    for (const landing of [1.5, 6, 12, 15.5]) {
      const seen = arrivals(landing);
      const { phase, inside } = grabPhaseFromArrivals(clock, seen, span)!;
      expect(inside).toBe(0);
      expect(spanFit(clock, seen, phase, span).inside).toBe(0);
      // As far from the arrivals as the tick allows: (16.666 - 8.333 - 1.6 jitter) / 2 on each side.
      expect(spanFit(clock, seen, phase, span).clearance).toBeGreaterThan(3);
    }
  });

  it('places arrivals within the slot (two ticks at 30 fps): pictures after the other tick of the slot do not count', () => {
    const span = 1000 / 120;
    const slot = slotClock(clock, 30)!;
    expect(slot).toEqual({ tickWallMs: clock.tickWallMs, intervalMs: 2 * clock.intervalMs });
    expect(slotClock(clock, 45)).toBeUndefined();
    expect(slotClock({ ...clock, intervalMs: 0 }, 30)).toBeUndefined();
    // A 30 fps video whose pictures land 13-29 ms after the slot's first tick (as at 1080p): folded over one
    // tick they seem to arrive all over it, so every span holds some; in the slot, 0-11 ms after its start
    // none arrive.
    const spread = arrivals(13, 12, (i) => (i * 16) / 11);
    expect(grabPhaseFromArrivals(clock, spread, span)!.inside).toBeGreaterThan(0);
    const inSlot = grabPhaseFromArrivals(slot, spread, span)!;
    expect(inSlot.inside).toBe(0);
    expect(inSlot.phase < 13 - span || inSlot.phase > 29).toBe(true);
    expect(spanFit(slot, spread, 2, span).inside).toBe(0);
    expect(spanFit(clock, spread, 2, span).inside).toBeGreaterThan(0);
  });

  it('finds no phase with too few arrivals, the least crowded span when arrivals spread, and counts arrivals in a span', () => {
    const span = 1000 / 120;
    expect(grabPhaseFromArrivals(clock, arrivals(5, 4), span)).toBeUndefined();
    // Arrivals spread over 9 ms of the tick (as at 1080p): no span is free of them; the best holds the fewest.
    const spread = arrivals(3, 20, (i) => (i % 10) * 0.9);
    const best = grabPhaseFromArrivals(clock, spread, span)!;
    expect(best.inside).toBeLessThan(spanFit(clock, spread, 2, span).inside);
    for (let p = 0; p < 16.5; p += 0.5) expect(spanFit(clock, spread, p, span).inside).toBeGreaterThanOrEqual(best.inside);
    expect(spanFit(clock, arrivals(5), 2, span).inside).toBe(12);
    expect(spanFit(clock, arrivals(5), 8, span).inside).toBe(0);
  });

  it('moves the grab only when clearly fewer pictures arrive in the best span, but always off a plain grid', () => {
    const watch = { phaseLocked: true, watch: 1, arrivals: 10, inSpan: 2, inBestSpan: 0, phaseMs: 4, bestPhaseMs: 20 };
    expect(shouldMoveGrab(watch)).toBe(true);
    // Later watches need 25 % of the arrivals in the span more than in the best span, the first 15 %, and
    // always at least two.
    expect(shouldMoveGrab({ ...watch, watch: 2 })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, inSpan: 3 })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, inSpan: 3, inBestSpan: 1 })).toBe(false);
    expect(shouldMoveGrab({ ...watch, inSpan: 1 })).toBe(false);
    // A best phase within 1 ms of the grab's is no move.
    expect(shouldMoveGrab({ ...watch, bestPhaseMs: 4.75 })).toBe(false);
    // A run on a plain 1/fps grid (started before the frame clock was known) moves whatever the counts say:
    // its grabs are not in step with the ticks, so no count against its phase means anything.
    expect(shouldMoveGrab({ ...watch, phaseLocked: false, inSpan: 0 })).toBe(true);
    expect(shouldMoveGrab({ ...watch, phaseLocked: false, watch: 2, inSpan: 0, bestPhaseMs: 4 })).toBe(true);
  });

  it('measures how steadily pictures reach the screen: jitter from one frame, intervals off the beat, gaps left out', () => {
    const frame = 1000 / 30;
    // Steady pictures, each 1 ms either side of its beat.
    const steady = Array.from({ length: 31 }, (_, i) => 5000 + i * frame + (i % 2 ? 1 : -1));
    const even = pictureTiming(steady, 30)!;
    expect(even.intervals).toBe(30);
    expect(even.jitterMs).toBeCloseTo(2, 1);
    expect(even.offBeat).toBe(0);
    expect(even.gaps).toBe(0);
    // One picture a tick late (16.7 ms, as under load): the interval before it is long, the one after short,
    // and a picture the page never showed is a gap, not an interval.
    const late = [...steady.slice(0, 10), steady[10]! + 16.7, ...steady.slice(11, 20), ...steady.slice(21)];
    const uneven = pictureTiming(late, 30)!;
    expect(uneven.offBeat).toBe(2);
    expect(uneven.gaps).toBe(1);
    expect(uneven.intervals).toBe(28);
    expect(uneven.jitterMs).toBeGreaterThan(even.jitterMs * 2);
    expect(pictureTiming([1000], 30)).toBeUndefined();
    expect(pictureTiming([1000, 1100], 30)).toBeUndefined();
    // Watches pooled by interval count.
    const pooled = poolPictureTiming([even, uneven, { intervals: 0, jitterMs: 0, offBeat: 0, gaps: 3 }])!;
    expect(pooled.intervals).toBe(58);
    expect(pooled.offBeat).toBe(2);
    expect(pooled.gaps).toBe(1);
    expect(pooled.jitterMs).toBeGreaterThan(even.jitterMs);
    expect(pooled.jitterMs).toBeLessThan(uneven.jitterMs);
    expect(poolPictureTiming([])).toBeUndefined();
  });

  it('counts a page settled only when its pictures come on the beat and clear of the grab span', () => {
    const steady = { intervals: 11, jitterMs: 2.3, offBeat: 0, gaps: 0 };
    expect(picturesSettled(steady, 9)).toBe(true);
    expect(picturesSettled(steady, SETTLED_ROOM_MS)).toBe(true);
    // Pictures close to the span, or in it (no room), are watched again sooner.
    expect(picturesSettled(steady, SETTLED_ROOM_MS - 0.5)).toBe(false);
    expect(picturesSettled(steady, 0)).toBe(false);
    // Unsteady pictures (as at 1080p with an encoder beside the page) wander, wherever they are now.
    expect(picturesSettled({ ...steady, jitterMs: STEADY_JITTER_MS + 1 }, 9)).toBe(false);
    expect(picturesSettled({ ...steady, offBeat: 1 }, 9)).toBe(false);
    expect(picturesSettled(undefined, 9)).toBe(false);
  });
});
