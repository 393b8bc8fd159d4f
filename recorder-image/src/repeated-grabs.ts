/**
 * Grabs that repeated the picture before them, found in the encoded video as it is written, at no cost.
 *
 * x11grab copies the screen exactly, so a grab taken before the page's next picture reached the screen is a
 * copy of the one before it, and x264 encodes it as a frame of skipped blocks: a few dozen bytes, where the
 * frames around it carry whatever changed (on the sync page 300–600 bytes, a camera picture far more).
 * A frame at most half its eight nearest neighbours' median size was checked against the frame codes of
 * nine bench recordings of the sync page (64,849 frames, 720p and 1080p, 1–352 repeated in each): it named
 * 796 of the 820 repeated frames, and one that was not. Runs of repeats slip through it (a frame amid a run
 * has repeats for neighbours): in seven 30–40 s recordings, five of them with both cores frozen now and then,
 * it named 197 of 251. Looking past the small neighbours to the nearest moving frames (isRepeatedPicture)
 * named 250 of 251, and one that was not.
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
 * A frame of at least this many bytes shows the page moving. Neighbours whose median is below it are
 * themselves (nearly) repeats: a still page, where a small frame says nothing about the grab.
 */
export const REPEAT_MIN_MEDIAN_BYTES = 150;
/**
 * How far (frames) on each side a repeat's moving neighbours are looked for. Repeats come in runs when the
 * page stood still for a moment (a stall of the machine: runs of 3 to 13 in test runs with both cores frozen
 * now and then); up to about twice this long, a run is counted whole. A page still for longer is still.
 */
export const REPEAT_REACH = 15;
/**
 * The first frames of each encoder run are not judged: the page's first pictures at the start, and at a
 * grab move's takeover the new encoder's first picture, which is held while the old one ends.
 */
export const REPEAT_SETTLE_FRAMES = 15;
/** Repeats are remembered this long (ms), for counts over a recent window. */
const KEEP_MS = 60_000;

/** A frame that shows the page moving (see REPEAT_MIN_MEDIAN_BYTES). */
const isMoving = (f: EncodedFrame) => !f.key && f.bytes >= REPEAT_MIN_MEDIAN_BYTES;
const median = (sizes: number[]) => [...sizes].sort((a, b) => a - b)[Math.floor(sizes.length / 2)]!;

/** Whether a frame is a repeat among its nearest neighbours (see REPEAT_SHARE): a grab that landed among the page's pictures. */
export function isRepeatedGrab(frame: EncodedFrame, neighbours: readonly EncodedFrame[]): boolean {
  if (frame.key) return false;
  const sizes = neighbours.filter((f) => !f.key).map((f) => f.bytes);
  if (sizes.length < REPEAT_NEIGHBOURS) return false;
  const m = median(sizes);
  return m >= REPEAT_MIN_MEDIAN_BYTES && frame.bytes <= REPEAT_SHARE * m;
}

/**
 * Whether a frame is a repeat among the nearest frames that show the page moving, within REPEAT_REACH on
 * each side (`before` oldest first, `after` nearest first): also each frame of a run of repeats, whose
 * nearest neighbours are repeats too. At least one moving frame must come after it (else the page went
 * still), and REPEAT_NEIGHBOURS in all.
 */
export function isRepeatedPicture(frame: EncodedFrame, before: readonly EncodedFrame[], after: readonly EncodedFrame[]): boolean {
  if (frame.key) return false;
  const b = before.slice(-REPEAT_REACH).filter(isMoving).slice(-REPEAT_NEIGHBOURS);
  const a = after.slice(0, REPEAT_REACH).filter(isMoving).slice(0, REPEAT_NEIGHBOURS);
  if (a.length === 0 || a.length + b.length < REPEAT_NEIGHBOURS) return false;
  return frame.bytes <= REPEAT_SHARE * median([...b, ...a].map((f) => f.bytes));
}

/**
 * Counts the repeated frames of a recording, run by run, as their frames are written: `total` counts every
 * repeat (isRepeatedPicture, the FramesRepeated metric); `since` and `when` only those among moving
 * neighbours (isRepeatedGrab), the sign of a grab landing among the page's pictures rather than of a page
 * that stood still.
 */
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
  /** Wall-clock times of the recent repeats among moving neighbours, in order. */
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
    while (this.next < this.frames.length && this.judgeable(this.next)) {
      const frame = this.frames[this.next]!;
      if (frame.n >= REPEAT_SETTLE_FRAMES) {
        const before = this.frames.slice(Math.max(0, this.next - REPEAT_REACH), this.next);
        const after = this.frames.slice(this.next + 1, this.next + 1 + REPEAT_REACH);
        if (isRepeatedPicture(frame, before, after)) {
          this.total++;
          if (isRepeatedGrab(frame, [...before.slice(-REPEAT_NEIGHBOURS), ...after.slice(0, REPEAT_NEIGHBOURS)])) {
            this.times.push(frame.wallMs);
            found = true;
          }
        }
      }
      this.next++;
    }
    const done = Math.max(0, this.next - REPEAT_REACH);
    this.frames.splice(0, done);
    this.next -= done;
    const last = this.times.at(-1);
    if (last !== undefined) while (this.times[0]! < last - KEEP_MS) this.times.shift();
    if (found) for (const listener of [...this.listeners]) listener();
  }

  /** Whether frame `i` has its neighbours after it: REPEAT_NEIGHBOURS moving ones, or REPEAT_REACH frames. */
  private judgeable(i: number): boolean {
    const after = this.frames.length - 1 - i;
    if (after >= REPEAT_REACH) return true;
    if (after < REPEAT_NEIGHBOURS) return false;
    return this.frames.slice(i + 1).filter(isMoving).length >= REPEAT_NEIGHBOURS;
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
