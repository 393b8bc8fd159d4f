/**
 * Repeated grabs found from the encoded frames' sizes (repeated-grabs.ts). The e2e quality test checks the
 * count against the frame codes of a real recording; these pin the rule and the bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { isRepeatedGrab, REPEAT_MIN_MEDIAN_BYTES, REPEAT_REACH, REPEAT_SETTLE_FRAMES, RepeatedGrabs, type EncodedFrame } from '../../recorder-image/src/repeated-grabs.ts';

const T0 = 1_800_000_000_000;
const FRAME_MS = 1000 / 30;

/** Frames of a moving page (~400 bytes, a little noise), a keyframe every 60, with repeats (~60 bytes) at `repeatAt`. */
function frames(count: number, repeatAt: number[] = [], base = 400): EncodedFrame[] {
  return Array.from({ length: count }, (_, n) => ({
    bytes: n % 60 === 0 ? 30_000 : repeatAt.includes(n) ? 60 : base + ((n * 37) % 90),
    key: n % 60 === 0,
    wallMs: T0 + n * FRAME_MS,
  }));
}

describe('repeated grabs', () => {
  it('are the small frames among larger ones: at most half their neighbours\' median size', () => {
    const around = [400, 420, 380, 410, 390, 430, 400, 415].map((bytes) => ({ bytes, key: false, wallMs: 0 }));
    const median = 410;
    expect(isRepeatedGrab({ bytes: median / 2, key: false, wallMs: 0 }, around)).toBe(true);
    expect(isRepeatedGrab({ bytes: median / 2 + 5, key: false, wallMs: 0 }, around)).toBe(false);
    // A keyframe is never one, and keyframes among the neighbours do not count.
    expect(isRepeatedGrab({ bytes: 60, key: true, wallMs: 0 }, around)).toBe(false);
    const withKeys = around.map((f, i) => (i < 5 ? { ...f, key: true, bytes: 30_000 } : f));
    expect(isRepeatedGrab({ bytes: 60, key: false, wallMs: 0 }, withKeys)).toBe(false);
    // On a still page every frame is small: nothing to tell.
    const still = around.map((f) => ({ ...f, bytes: REPEAT_MIN_MEDIAN_BYTES - 10 }));
    expect(isRepeatedGrab({ bytes: 20, key: false, wallMs: 0 }, still)).toBe(false);
  });

  it('are counted as the frames come, each judged once its neighbours after it have come too', () => {
    const all = frames(130, [20, 35, 36, 61, 100]);
    const whole = new RepeatedGrabs();
    whole.add(0, all);
    const oneByOne = new RepeatedGrabs();
    for (const f of all) oneByOne.add(0, [f]);
    // 35 and 36 are two repeats in a row (a picture two frames late): each still has enough larger neighbours.
    for (const counter of [whole, oneByOne]) expect(counter.total).toBe(5);
    expect(whole.since(T0 + 36 * FRAME_MS - 1)).toBe(3);
    expect(whole.since(T0 + 101 * FRAME_MS)).toBe(0);
    // The last frames wait for neighbours that have not come.
    const late = new RepeatedGrabs();
    late.add(0, frames(128, [126]));
    expect(late.total).toBe(0);
    late.add(0, frames(132, [126]).slice(128));
    expect(late.total).toBe(1);
  });

  it('are counted in runs too, up to about twice REPEAT_REACH long, but only those among moving neighbours bring a watch', () => {
    // Runs of 3, 6 and 12 repeats (a page that stood still for a moment) among moving frames.
    const runAt = (from: number, length: number) => Array.from({ length }, (_, k) => from + k);
    const repeats = [...runAt(20, 3), ...runAt(70, 6), ...runAt(100, 12)];
    const counter = new RepeatedGrabs();
    counter.add(0, frames(160, repeats));
    expect(counter.total).toBe(repeats.length);
    // Among their nearest neighbours (4 on each side) only the run of 3 and the ends of the others stand
    // out; a watch is for grabs landing among the page's pictures, not for a page that stood still.
    expect(counter.since(0)).toBeLessThan(repeats.length);
    expect(counter.since(0)).toBeGreaterThanOrEqual(3);
    // A page still for longer than twice the reach is still: its middle frames are not counted.
    const long = new RepeatedGrabs();
    long.add(0, frames(200, runAt(70, 2 * REPEAT_REACH + 10)));
    expect(long.total).toBeLessThanOrEqual(2 * REPEAT_REACH);
    // A page that goes still and stays still has no repeats.
    const stops = frames(200).map((f, n) => (n >= 90 && !f.key ? { ...f, bytes: 40 } : f));
    const stopped = new RepeatedGrabs();
    stopped.add(0, stops);
    expect(stopped.total).toBe(0);
  });

  it('are not looked for in the first frames of each encoder run, nor across runs', () => {
    const counter = new RepeatedGrabs();
    counter.add(0, frames(40, [5, 20]));
    expect(counter.total).toBe(1);
    // The next run starts afresh: its first frames (a takeover's held picture) are not judged.
    counter.add(1, frames(40, [REPEAT_SETTLE_FRAMES - 1, REPEAT_SETTLE_FRAMES + 5]).map((f) => ({ ...f, wallMs: f.wallMs + 60_000 })));
    expect(counter.total).toBe(2);
    // A still page finds none.
    const still = new RepeatedGrabs();
    still.add(0, frames(120, [30, 31, 70], 60));
    expect(still.total).toBe(0);
  });

  it('tell a waiter as soon as there are enough, and not after it stopped waiting', async () => {
    const counter = new RepeatedGrabs();
    const atOnce = counter.when(() => true);
    await atOnce.reached;
    const all = frames(120, [20, 30, 40, 50]);
    const three = counter.when(() => counter.total >= 3);
    let reached = false;
    void three.reached.then(() => (reached = true));
    counter.add(0, all.slice(0, 40));
    await Promise.resolve();
    expect(counter.total).toBe(2);
    expect(reached).toBe(false);
    const cancelled = counter.when(() => counter.total >= 3);
    let cancelledReached = false;
    void cancelled.reached.then(() => (cancelledReached = true));
    cancelled.cancel();
    counter.add(0, all.slice(40));
    await new Promise((r) => setTimeout(r, 0));
    expect(counter.total).toBe(4);
    expect(reached).toBe(true);
    expect(cancelledReached).toBe(false);
  });
});
