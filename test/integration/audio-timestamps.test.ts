/**
 * The sound's timestamps (audioFilter), run through real ffmpeg on generated sound whose input stamps
 * behave like PulseAudio's: far off for the first packets, then wandering by several ms, or running at a
 * clock a little off the sample rate. The filter must keep PulseAudio's stamps while they settle, then
 * count samples, follow a clock difference, smooth the wander, and never step backwards.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AUDIO_SETTLE_SECONDS, audioFilter } from '../../recorder-image/src/ffmpeg-capture.ts';

const run = promisify(execFile);
const RATE = 48_000;

interface Frame {
  /** Input stamp and output stamp (s), and samples before the frame. */
  inSeconds: number;
  outSeconds: number;
  samplesBefore: number;
}

/** Runs generated sound through `stamps` (the simulated input stamps), then audioFilter(0). */
async function stampFrames(stamps: string, seconds: number): Promise<Frame[]> {
  const graph = `asetpts='${stamps}',ashowinfo,${audioFilter(0)},ashowinfo`;
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${RATE}:duration=${seconds}`, '-af', graph, '-f', 'null', '-'],
    { maxBuffer: 1 << 26 },
  );
  const shown = [...stderr.matchAll(/Parsed_ashowinfo_(\d+).*? pts:(-?\d+) .*?nb_samples:(\d+)/g)];
  const before = shown.filter((m) => m[1] === '1');
  const after = shown.filter((m) => m[1] === '3');
  expect(after.length).toBe(before.length);
  let samples = 0;
  return before.map((m, i) => {
    const frame = { inSeconds: Number(m[2]) / RATE, outSeconds: Number(after[i]![2]) / RATE, samplesBefore: samples };
    samples += Number(m[3]);
    return frame;
  });
}

const settled = (frames: Frame[]) => frames.filter((f) => f.samplesBefore >= (AUDIO_SETTLE_SECONDS + 15) * RATE);
/** Output stamp minus the true time of the frame's first sample (the truth starts at 0), in ms. */
const errorMs = (f: Frame, truth: (s: number) => number = (s) => s) => (f.outSeconds - truth(f.samplesBefore / RATE)) * 1000;

describe('sound timestamps', () => {
  it('keeps the input stamps while they settle, then smooths a wander of +-8 ms to under 2 ms', async () => {
    // A start 300 ms early that settles within a second (as PulseAudio's first stamps do), and a slow wander
    // (5 s period) around the truth.
    const frames = await stampFrames('PTS+(-0.3*exp(-T/0.2)+0.008*sin(2*PI*T/5))/TB', 40);
    const early = frames.filter((f) => f.samplesBefore < AUDIO_SETTLE_SECONDS * RATE);
    for (const f of early) expect(f.outSeconds).toBeCloseTo(f.inSeconds, 6);
    const inputWander = settled(frames).map((f) => (f.inSeconds - f.samplesBefore / RATE) * 1000);
    expect(Math.max(...inputWander) - Math.min(...inputWander)).toBeGreaterThan(15);
    const errors = settled(frames).map((f) => errorMs(f));
    expect(Math.max(...errors.map(Math.abs))).toBeLessThan(2);
    // Never backwards, and each frame's stamp advances by its length to within a few µs.
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.outSeconds).toBeGreaterThan(frames[i - 1]!.outSeconds);
  });

  it('follows a sample clock 100 ppm slower than the input stamps (the wall clock) to within 4 ms', async () => {
    const frames = await stampFrames('PTS*1.0001', 60);
    const truth = (s: number) => s * 1.0001;
    const errors = settled(frames).map((f) => errorMs(f, truth));
    expect(Math.max(...errors.map(Math.abs))).toBeLessThan(4);
    // The stamps moved away from a pure sample count (which would end within 0.2 ms of the count) with the clock.
    expect(errorMs(frames.at(-1)!)).toBeGreaterThan(2.5);
  });
});
