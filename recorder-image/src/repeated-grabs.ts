/**
 * Grabs that repeated the picture before them, found in the encoded video as it is written, at no cost.
 *
 * x11grab copies the screen exactly, so a grab taken before the page's next picture reached the screen is a
 * copy of the one before it, and x264 encodes it as a frame of skipped blocks: a few dozen bytes, where the
 * frames around it carry whatever changed (on the sync page 300–600 bytes, a camera picture far more).
 * Checked against the frame codes of nine bench recordings of the sync page (64,849 frames, 720p and 1080p,
 * 1–352 repeated in each): the rule below named 796 of the 820 repeated frames, and one that was not.
 *
 * A grab repeats when it lands among the page's pictures (see landing-probe.ts), so the recorder counts them
 * while it records, and watches the page at once when they come (followPictures in recorder.ts) instead of
 * at its next scheduled watch; and reports them as the FramesRepeated metric.
 */

/** One encoded video frame of an encoder run. */
export interface EncodedFrame {
  /** Its size in the stream. */
  bytes: number;
  /** A keyframe (coded on its own, so much larger than a repeat whatever it shows). */
  key: boolean;
  /** When it was grabbed (ms since the epoch). */
  wallMs: number;
}

/** A frame at most this share of its neighbours' median size is a repeat. */
export const REPEAT_SHARE = 0.5;
/** Frames looked at on each side of a frame (non-keyframes of the same run). */
export const REPEAT_NEIGHBOURS = 4;
/**
 * Neighbours whose median is below this many bytes are themselves (nearly) repeats: a still page, where a
 * small frame says nothing about the grab.
 */
export const REPEAT_MIN_MEDIAN_BYTES = 150;
/**
 * The first frames of each encoder run are not judged: the page's first pictures at the start, and at a
 * grab move's takeover the new encoder's first picture, which is held while the old one ends.
 */
export const REPEAT_SETTLE_FRAMES = 15;
/** Repeats are remembered this long (ms), for counts over a recent window. */
const KEEP_MS = 60_000;

/** Whether a frame is a repeat, judged by its neighbours (see REPEAT_SHARE). */
export function isRepeatedGrab(frame: EncodedFrame, neighbours: readonly EncodedFrame[]): boolean {
  if (frame.key) return false;
  const sizes = neighbours.filter((f) => !f.key).map((f) => f.bytes).sort((a, b) => a - b);
  if (sizes.length < REPEAT_NEIGHBOURS) return false;
  const median = sizes[Math.floor(sizes.length / 2)]!;
  return median >= REPEAT_MIN_MEDIAN_BYTES && frame.bytes <= REPEAT_SHARE * median;
}

/** Counts the repeated grabs of a recording, run by run, as their frames are written. */
export class RepeatedGrabs {
  /** Repeats over the whole recording. */
  total = 0;
  private run?: number;
  /** The current run's frames still needed: the undecided ones and their neighbours before them. */
  private frames: (EncodedFrame & { n: number })[] = [];
  /** Index in `frames` of the first frame not yet judged. */
  private next = 0;
  /** Frames of the current run so far. */
  private seen = 0;
  /** Wall-clock times of the recent repeats, in order. */
  private readonly times: number[] = [];
  private readonly listeners = new Set<() => void>();

  /** The next frames of encoder run `run` (a new run number starts afresh; a frame is judged once it has its neighbours). */
  add(run: number, frames: readonly EncodedFrame[]): void {
    if (run !== this.run) {
      this.run = run;
      this.frames = [];
      this.next = 0;
      this.seen = 0;
    }
    for (const f of frames) this.frames.push({ ...f, n: this.seen++ });
    let found = false;
    while (this.next + REPEAT_NEIGHBOURS < this.frames.length) {
      const frame = this.frames[this.next]!;
      const neighbours = [...this.frames.slice(Math.max(0, this.next - REPEAT_NEIGHBOURS), this.next), ...this.frames.slice(this.next + 1, this.next + 1 + REPEAT_NEIGHBOURS)];
      if (frame.n >= REPEAT_SETTLE_FRAMES && isRepeatedGrab(frame, neighbours)) {
        this.total++;
        this.times.push(frame.wallMs);
        found = true;
      }
      this.next++;
    }
    const done = Math.max(0, this.next - REPEAT_NEIGHBOURS);
    this.frames.splice(0, done);
    this.next -= done;
    const last = this.times.at(-1);
    if (last !== undefined) while (this.times[0]! < last - KEEP_MS) this.times.shift();
    if (found) for (const listener of [...this.listeners]) listener();
  }

  /** Repeats of frames grabbed at or after `wallMs` (within the last minute). */
  since(wallMs: number): number {
    let i = this.times.length;
    while (i > 0 && this.times[i - 1]! >= wallMs) i--;
    return this.times.length - i;
  }

  /**
   * Resolves once `enough()` holds: at once if it does, else checked at each repeat found. `cancel` stops
   * the watching (the promise then never settles).
   */
  when(enough: () => boolean): { reached: Promise<void>; cancel: () => void } {
    let listener: (() => void) | undefined;
    const reached = new Promise<void>((resolve) => {
      if (enough()) return resolve();
      listener = () => {
        if (!enough()) return;
        this.listeners.delete(listener!);
        resolve();
      };
      this.listeners.add(listener);
    });
    return { reached, cancel: () => listener && this.listeners.delete(listener) };
  }
}
