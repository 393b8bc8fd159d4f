/**
 * Grabbing in step with the browser's frame clock: the clock read from requestAnimationFrame timestamps, and
 * the encoder arguments built from it (the slot rule ffmpeg's select filter applies).
 */
import { describe, expect, it } from 'vitest';
import { chromiumTickMs, frameClockFromTicks } from '../../recorder-image/src/browser-source.ts';
import { defaultGrabPhaseMs, ffmpegArgs, GATE_LEAD_MS, GRAB_LATE_MS, grabQueueSize, grabTimer, LANDING_EARLY_MS, LANDING_LATE_MS, offPlace, slotClock, videoFilter, type CaptureOptions } from '../../recorder-image/src/ffmpeg-capture.ts';
import { loadRecorderConfig } from '../../recorder-image/src/config.ts';
import { arrivalsFromShowinfo, bestGrabPhase, fitBetter, landingFits, phaseFit, picturesSettled, pictureTiming, poolPictureTiming, REPEAT_CAUGHT_MOVE_GAP_MS, REPEAT_MOVE_GAP_MS, SETTLED_ROOM_MS, shouldMoveGrab, STEADY_JITTER_MS } from '../../recorder-image/src/landing-probe.ts';

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

  it('counts a skipped frame as whole ticks: the timestamps stay on the grid', () => {
    const skipped = ticks(100, 13);
    skipped.splice(5, 2);
    const clock = frameClockFromTicks(0, skipped)!;
    expect(clock.intervalMs).toBe(16.666);
    // The last timestamp is tick 12 of the grid through the first.
    expect(Math.abs(clock.tickWallMs - (100 + 12 * TICK))).toBeLessThan(0.1);
  });

  it('gives no clock for ticks off a grid (an interval of a tick and a half), too few ticks, or none at all', () => {
    const uneven = ticks(100, 13).map((t, i) => (i >= 6 ? t + TICK / 2 : t));
    expect(frameClockFromTicks(0, uneven)).toBeUndefined();
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
  it('grabs once per slot of two ticks on a whole-microsecond timer, the gate opening GATE_LEAD_MS before the grab phase', () => {
    const clock = { tickWallMs: 1_795_000_001_000.5, intervalMs: 16.666 };
    const timer = grabTimer({ ...base, frameClock: clock, grabPhaseMs: 4 })!;
    // 33,332 µs per grab: the browser's slot, not 1/30 s (which would slide 2.4 ms a minute against it).
    expect(timer.framerate).toBe('1000000/33332');
    expect(timer.slotSeconds).toBeCloseTo(0.033332, 9);
    // The select filter's slots are centred on the grab: a grab up to half a slot late still counts.
    expect(timer.slotOriginSeconds).toBeCloseTo(1.0005 + 0.004 - 0.016666, 6);
    // The gate opens at the first instant from `ready` on that is GATE_LEAD_MS before a grab at the phase.
    const ready = clock.tickWallMs + 100;
    const gate = timer.gateAt(ready);
    expect(gate).toBeGreaterThanOrEqual(ready);
    expect(gate - ready).toBeLessThan(33.332);
    const inSlot = (((gate + GATE_LEAD_MS - clock.tickWallMs) % 33.332) + 33.332) % 33.332;
    expect(Math.min(Math.abs(inSlot - 4), 33.332 - Math.abs(inSlot - 4))).toBeLessThan(1e-3);
    // Without a phase, the default one.
    expect(grabTimer({ ...base, frameClock: clock })!.slotOriginSeconds).toBeCloseTo(1.0005 + defaultGrabPhaseMs(1280, 720) / 1000 - 0.016666, 6);
    const o = { ...base, frameClock: clock, grabPhaseMs: 4 };
    const args = ffmpegArgs(o);
    expect(arg(args, '-framerate')).toBe('1000000/33332');
    const filter = videoFilter(o);
    expect(arg(args, '-vf')).toBe(filter);
    expect(filter).toContain('floor((t-0.987834)/0.033332000)');
    expect(filter).toContain('floor((prev_selected_t-0.987834)/0.033332000)');
    expect(filter).toMatch(/^setpts=PTS-1795000000\/TB,select=/);
    // Never two kept grabs closer than 10 ms (they would share a millisecond timestamp).
    expect(filter).toContain('*gte(t-prev_selected_t,0.01)');
    // The nominal output rate stays the frame rate (the H.264 level), with no frame-rate conversion.
    expect(arg(args, '-r')).toBe('30');
    expect(arg(args, '-fps_mode')).toBe('passthrough');
  });

  it('opens pulse, then the gate, then x11grab, and sizes the grab queue by memory (128 MiB of grabs, 16 to 64)', () => {
    for (const [width, height, queue] of [[1280, 720, 36], [1920, 1080, 16], [640, 360, 64], [3840, 2160, 16]] as const) {
      expect(grabQueueSize(width, height)).toBe(queue);
      const args = ffmpegArgs({ ...base, width, height });
      const inputs = args.flatMap((a, i) => (a === '-f' && args[i + 1] !== 'mp4' ? [args[i + 1]] : []));
      expect(inputs).toEqual(['pulse', 'u8', 'x11grab']);
      // The gate is a pipe on fd 4 (the child's stdio), read as raw bytes.
      expect(args[args.indexOf('u8') + 6]).toBe('pipe:4');
      expect(args[args.indexOf('x11grab') - 3]).toBe('-thread_queue_size');
      expect(args[args.indexOf('x11grab') - 2]).toBe(String(queue));
      expect(args.join(' ')).toContain('-map 2:v -map 0:a');
    }
  });

  it('measures how far a first grab landed from its place the short way round the slot (a grab move keeps -1 to +2.5 ms)', () => {
    const clock = { tickWallMs: 0, intervalMs: 16.666 };
    expect(offPlace(10.5, 9, clock, 30)).toBeCloseTo(1.5, 6);
    // 0.5 ms into the next slot is 1 ms after a place 32.832 ms into this one, not 32 ms before it.
    expect(offPlace(0.5, 32.832, clock, 30)).toBeCloseTo(1, 6);
    expect(offPlace(32.832, 0.5, clock, 30)).toBeCloseTo(-1, 6);
    expect(offPlace(24.9, 9, clock, 30)).toBeCloseTo(15.9, 6);
    expect([LANDING_EARLY_MS, LANDING_LATE_MS]).toEqual([1, 2.5]);
    // Without a clock there is no slot to wrap in.
    expect(offPlace(40, 9, undefined, 30)).toBe(31);
  });

  it('falls back to a plain 1/fps grid without a clock, or when a slot is not a whole number of ticks', () => {
    for (const o of [base, { ...base, frameClock: { tickWallMs: 0, intervalMs: 1000 / 45 } }]) {
      expect(grabTimer(o)).toBeUndefined();
      expect(videoFilter(o)).toContain('floor((t-0.000000)/0.033333333)');
      expect(arg(ffmpegArgs(o), '-framerate')).toBe('30');
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

  const slot = slotClock(clock, 30)!;

  it('places the grab more than a tick after the pictures and clear of the next: a picture one tick late is still grabbed', () => {
    expect(slot).toEqual({ tickWallMs: clock.tickWallMs, intervalMs: 2 * clock.intervalMs });
    expect(slotClock(clock, 45)).toBeUndefined();
    expect(slotClock({ ...clock, intervalMs: 0 }, 30)).toBeUndefined();
    for (const landing of [1.5, 6, 12, 15.5, 25]) {
      const seen = arrivals(landing);
      const { phase, fit } = bestGrabPhase(slot, clock.intervalMs, seen)!;
      expect(fit).toMatchObject({ caught: 0, fragile: 0 });
      expect(fit.clearance).toBeGreaterThan(1);
      // Each picture is more than a tick old at the grab, and the next arrives after the grab's late edge.
      for (const t of seen) {
        const age = (((phase - (t - clock.tickWallMs)) % slot.intervalMs) + slot.intervalMs) % slot.intervalMs;
        expect(age).toBeGreaterThan(clock.intervalMs);
        expect(age).toBeLessThan(slot.intervalMs - GRAB_LATE_MS);
      }
      // The same pictures a tick late would still arrive before the grab: none caught.
      expect(phaseFit(slot, clock.intervalMs, seen.map((t) => t + clock.intervalMs), phase).caught).toBe(0);
    }
  });

  it('counts pictures caught by the grab and fragile ones (less than a tick old at it)', () => {
    const seen = arrivals(10, 12, () => 0);
    // A grab right where pictures arrive catches them all.
    expect(phaseFit(slot, clock.intervalMs, seen, 10).caught).toBe(12);
    // 5 ms after them: clear, but a picture a tick late would come after the grab.
    expect(phaseFit(slot, clock.intervalMs, seen, 15)).toMatchObject({ caught: 0, fragile: 12 });
    // 25 ms after them (8 ms before the next): clear and robust.
    expect(phaseFit(slot, clock.intervalMs, seen, 35 - 33.332)).toMatchObject({ caught: 0, fragile: 0 });
    // With one tick per slot (60 fps) there is no room for a late picture: nothing counts as fragile.
    const tickSlot = slotClock(clock, 60)!;
    expect(phaseFit(tickSlot, clock.intervalMs, seen, 15 - 16.666 + 16.666)).toMatchObject({ caught: 0, fragile: 0 });
  });

  it("keeps a grab move's encoder that landed where the watched pictures are as safe as at the best phase, or near it and catching none", () => {
    const seen = arrivals(10, 12, () => 0);
    const best = bestGrabPhase(slot, clock.intervalMs, seen)!;
    expect(best.fit).toMatchObject({ caught: 0, fragile: 0 });
    expect(best.fit.clearance).toBeGreaterThan(4.5);
    const fits = (landedMs: number, near: boolean) => landingFits(slot, clock.intervalMs, seen, best.fit, (landedMs + slot.intervalMs) % slot.intervalMs, near);
    // Off the landing window but still with room: kept; a little farther, among the pictures: replaced.
    expect(fits(best.phase + best.fit.clearance - 0.3, false)).toBe(true);
    expect(fits(best.phase - best.fit.clearance + 0.3, false)).toBe(true);
    expect(fits(best.phase + best.fit.clearance + 1.5, false)).toBe(false);
    // Where pictures arrive: replaced even within the window.
    expect(fits(10, true)).toBe(false);
    // Less than a tick after them (fragile): kept only within the window.
    expect(fits(15, true)).toBe(true);
    expect(fits(15, false)).toBe(false);
  });

  it('orders places by pictures caught, then fragile, then clearance (the last new encoder of a move is kept only where it is no worse)', () => {
    const seen = arrivals(10, 12, () => 0);
    const at = (phase: number) => phaseFit(slot, clock.intervalMs, seen, phase);
    // Among the pictures, then a tick after them, then well clear of them.
    expect(fitBetter(at(15), at(10))).toBe(true);
    expect(fitBetter(at(35 - 33.332), at(15))).toBe(true);
    expect(fitBetter(at(10), at(15))).toBe(false);
    // Equal fits: neither is better, so a landing as good as the running grab is kept.
    expect(fitBetter(at(10), at(10))).toBe(false);
    expect(fitBetter({ caught: 0, fragile: 0, clearance: 3 }, { caught: 0, fragile: 0, clearance: 2 })).toBe(true);
    expect(fitBetter({ caught: 0, fragile: 1, clearance: 9 }, { caught: 0, fragile: 0, clearance: 2 })).toBe(false);
  });

  it('finds no phase with too few arrivals, and the fewest caught, then fewest fragile, when arrivals spread', () => {
    expect(bestGrabPhase(slot, clock.intervalMs, arrivals(5, 4))).toBeUndefined();
    // Arrivals spread over 18 ms of the slot (as at 1080p under load): no phase is robust for all.
    const spread = arrivals(3, 20, (i) => (i % 10) * 2);
    const best = bestGrabPhase(slot, clock.intervalMs, spread)!;
    expect(best.fit.caught).toBe(0);
    expect(best.fit.fragile).toBeGreaterThan(0);
    for (let p = 0; p < 33; p += 0.5) {
      const f = phaseFit(slot, clock.intervalMs, spread, p);
      expect(f.caught > 0 || f.fragile >= best.fit.fragile).toBe(true);
    }
  });

  it('moves the grab only when clearly fewer pictures are at risk at the best phase, but always off a plain grid', () => {
    const fit = (caught: number, fragile = 0) => ({ caught, fragile, clearance: 0 });
    const watch = { phaseLocked: true, watch: 1, arrivals: 10, now: fit(2), best: fit(0), phaseMs: 4, bestPhaseMs: 20 };
    expect(shouldMoveGrab(watch)).toBe(true);
    // Later watches need 25 % of the arrivals more at risk than at the best phase, the first 15 %, and always
    // at least two.
    expect(shouldMoveGrab({ ...watch, watch: 2 })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(3) })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(3), best: fit(1) })).toBe(false);
    expect(shouldMoveGrab({ ...watch, now: fit(1) })).toBe(false);
    // Fragile pictures count as at risk too: all of them a tick young (the page moved to the other tick).
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(0, 10) })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(0, 10), best: fit(0, 9) })).toBe(false);
    // A best phase within 1 ms of the grab's is no move.
    expect(shouldMoveGrab({ ...watch, bestPhaseMs: 4.75 })).toBe(false);
    // After repeated grabs, one picture at risk (caught or fragile) is enough, to a place clear of every
    // picture; a place with some at risk is a move only when it is much better, and a minute after the last.
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1, 1), best: fit(0), repeating: true })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1, 1), best: fit(0), repeating: false })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(0, 1), best: fit(0), repeating: true })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(0, 1), best: fit(0), repeating: false })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(2, 0), best: fit(0, 1), repeating: true })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(3, 3), best: fit(0, 1), repeating: true })).toBe(false);
    const minute = REPEAT_MOVE_GAP_MS;
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1, 5), best: fit(0, 1), repeating: true, sinceMoveMs: minute - 1 })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1, 5), best: fit(0, 1), repeating: true, sinceMoveMs: minute })).toBe(true);
    // The 10-minute run's watches: 2 caught and 6 fragile at the grab, 2 fragile at the best place, moves;
    // 1 and 3 against 2 fragile is not much better, nor is anything against a place with a caught picture
    // or three fragile ones.
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 8, now: fit(2, 6), best: fit(0, 2), repeating: true, sinceMoveMs: minute })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 5, now: fit(1, 3), best: fit(0, 2), repeating: true, sinceMoveMs: minute })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 9, now: fit(5, 5), best: fit(1, 0), repeating: true, sinceMoveMs: minute })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 9, now: fit(5, 5), best: fit(0, 3), repeating: true, sinceMoveMs: minute })).toBe(false);
    // With two or more pictures caught at the grab, 15 s after the last move is enough; with one, a minute.
    const soon = REPEAT_CAUGHT_MOVE_GAP_MS;
    expect(soon).toBeLessThan(minute);
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 10, now: fit(2, 5), best: fit(0, 1), repeating: true, sinceMoveMs: soon })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 10, now: fit(2, 5), best: fit(0, 1), repeating: true, sinceMoveMs: soon - 1 })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 10, now: fit(1, 6), best: fit(0, 1), repeating: true, sinceMoveMs: soon })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 10, now: fit(1, 6), best: fit(0, 1), repeating: true, sinceMoveMs: minute })).toBe(true);
    // Not much better elsewhere: no move however many are caught.
    expect(shouldMoveGrab({ ...watch, watch: 9, arrivals: 10, now: fit(3, 0), best: fit(0, 2), repeating: true, sinceMoveMs: minute })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(3, 3), best: fit(0, 1), repeating: false })).toBe(true);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1), best: fit(1), repeating: true })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(0), best: fit(0), repeating: true })).toBe(false);
    expect(shouldMoveGrab({ ...watch, watch: 2, now: fit(1), best: fit(0), bestPhaseMs: 4.5, repeating: true })).toBe(false);
    // The page's pictures moved to the slot's other tick: all a tick young at the grab, none caught.
    expect(shouldMoveGrab({ ...watch, watch: 3, arrivals: 8, now: fit(0, 8), best: fit(0), repeating: true })).toBe(true);
    expect(shouldMoveGrab({ ...watch, phaseLocked: false, now: fit(0), best: fit(0, 2), repeating: true })).toBe(true);
    // A run on a plain 1/fps grid (no frame clock at its start) moves whatever the counts say: its grabs are
    // not in step with the ticks, so no count against its phase means anything.
    expect(shouldMoveGrab({ ...watch, phaseLocked: false, now: fit(0) })).toBe(true);
    expect(shouldMoveGrab({ ...watch, phaseLocked: false, watch: 2, now: fit(0), bestPhaseMs: 4 })).toBe(true);
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
