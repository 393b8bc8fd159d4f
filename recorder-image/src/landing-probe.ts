/**
 * Where in the browser's tick the page's pictures reach the screen, measured on the meeting page itself.
 *
 * Chromium draws on a steady tick (see FrameClock), but when a drawn picture reaches the X screen differs:
 * on the sync page it was 2–6 ms after the tick in one launch, 7–11 ms in the next and 14–17 ms in a third
 * (video pictures are put on the screen when the display compositor's deadline passes, and that deadline
 * moves with its own estimates), while a page that repaints from requestAnimationFrame lands 1–2 ms after
 * the tick every time. So a fixed grab phase failed in some launches (7–24 % repeated frames), and the phase
 * is taken from the pictures of the page being recorded: four one-pixel rows across the screen are grabbed
 * 1,000 times a second for a moment, and each change of a row is a picture arriving.
 */
import { spawn } from 'node:child_process';
import { terminate, waitForExit } from './child-process.ts';
import type { FrameClock } from './ffmpeg-capture.ts';

export interface LandingProbeOptions {
  display: string;
  width: number;
  height: number;
  /** How long to watch (ms). */
  durationMs: number;
  /** Give up after this long (ms), whatever was seen by then. */
  timeoutMs: number;
}

/** Grabs per second of each row: one per ms, so an arrival is placed to within 1 ms. */
const PROBE_RATE = 1000;

/** Rows watched, as fractions of the screen height: evenly spaced, so that moving content (video tiles) crosses one. */
const PROBE_ROWS = [1 / 8, 3 / 8, 5 / 8, 7 / 8];

/**
 * Wall-clock times (ms since the epoch) at which pictures reached the screen: any change of four one-pixel
 * rows across the screen. Empty when nothing on those rows moved (a still page) or the grab failed.
 */
export async function pictureArrivals(o: LandingProbeOptions): Promise<number[]> {
  const frames = Math.round((o.durationMs / 1000) * PROBE_RATE);
  const inputs = PROBE_ROWS.flatMap((share) => [
    // A long queue: the grabs are tiny, and a grabber that waits for the filters stops placing arrivals.
    '-thread_queue_size', '2048',
    '-f', 'x11grab', '-draw_mouse', '0', '-framerate', String(PROBE_RATE), '-video_size', `${o.width}x1`,
    '-i', `${o.display}.0+0,${Math.floor(o.height * share)}`,
  ]);
  // showinfo: each grab's wall-clock pts (µs) and a checksum of its pixels, per row.
  const graph = PROBE_ROWS.map((_, i) => `[${i}:v]showinfo[r${i}]`).join(';');
  const outputs = PROBE_ROWS.flatMap((_, i) => ['-map', `[r${i}]`]);
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-loglevel', 'info', '-copyts', ...inputs, '-filter_complex', graph, ...outputs, '-frames:v', String(frames), '-fps_mode', 'passthrough', '-f', 'null', '-'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => void terminate(child, 500), o.timeoutMs);
  await waitForExit(child);
  clearTimeout(timer);
  return arrivalsFromShowinfo(stderr);
}

/**
 * Picture arrivals from showinfo's lines (one showinfo per row): midway between two grabs of a row whose
 * pixels differ, in ms since the epoch. A picture seen on several rows counts once.
 */
export function arrivalsFromShowinfo(text: string): number[] {
  const rows = new Map<string, { ms: number; sum: string }[]>();
  for (const m of text.matchAll(/\[Parsed_showinfo_(\d+) [^\]]*\] n: *\d+ pts:(\d+) .*? checksum:([0-9A-F]+)/g)) {
    const row = rows.get(m[1]!) ?? rows.set(m[1]!, []).get(m[1]!)!;
    row.push({ ms: Number(m[2]) / 1000, sum: m[3]! });
  }
  const arrivals: number[] = [];
  for (const grabs of rows.values()) {
    for (let i = 1; i < grabs.length; i++) {
      // Only grabs up to 3 ms apart place an arrival; a stalled grabber does not.
      if (grabs[i]!.sum !== grabs[i - 1]!.sum && grabs[i]!.ms - grabs[i - 1]!.ms <= 3) arrivals.push((grabs[i]!.ms + grabs[i - 1]!.ms) / 2);
    }
  }
  arrivals.sort((a, b) => a - b);
  return arrivals.filter((t, i) => i === 0 || t - arrivals[i - 1]! > 3);
}

/**
 * How steadily the page's pictures reach the screen, from the intervals between consecutive arrivals:
 * `jitterMs` is their root-mean-square distance from one frame (1/fps), and `offBeat` counts those more
 * than a third of a frame away from it. Intervals of 1.5 frames or more are `gaps` (a picture the page
 * did not show, or that the watch missed) and are left out of both.
 *
 * A steady page shows each picture one frame after the last, give or take the drawing: on this machine
 * the sync page alone at 1080p had 1.3–3.1 ms and no interval off the beat. Any capture that keeps one grab
 * per frame repeats a picture that comes late and skips the one after, so this is what the page gives the
 * recorder to work with; with a 1080p encoder beside it on two cores, it was 5–8 ms, with 2–14 of ~65
 * intervals off the beat.
 */
export interface PictureTiming {
  intervals: number;
  jitterMs: number;
  offBeat: number;
  gaps: number;
}

export function pictureTiming(arrivalsMs: number[], fps: number): PictureTiming | undefined {
  const frameMs = 1000 / fps;
  const out = { intervals: 0, jitterMs: 0, offBeat: 0, gaps: 0 };
  let squares = 0;
  for (let i = 1; i < arrivalsMs.length; i++) {
    const d = arrivalsMs[i]! - arrivalsMs[i - 1]!;
    if (d >= 1.5 * frameMs) {
      out.gaps++;
      continue;
    }
    out.intervals++;
    squares += (d - frameMs) ** 2;
    if (Math.abs(d - frameMs) > frameMs / 3) out.offBeat++;
  }
  if (out.intervals === 0) return undefined;
  out.jitterMs = Math.round(Math.sqrt(squares / out.intervals) * 100) / 100;
  return out;
}

/** Several watches' PictureTiming as one (jitter pooled by interval count); undefined when none has intervals. */
export function poolPictureTiming(timings: PictureTiming[]): PictureTiming | undefined {
  const seen = timings.filter((t) => t.intervals > 0);
  if (seen.length === 0) return undefined;
  const intervals = seen.reduce((n, t) => n + t.intervals, 0);
  const squares = seen.reduce((n, t) => n + t.intervals * t.jitterMs ** 2, 0);
  return {
    intervals,
    jitterMs: Math.round(Math.sqrt(squares / intervals) * 100) / 100,
    offBeat: seen.reduce((n, t) => n + t.offBeat, 0),
    gaps: seen.reduce((n, t) => n + t.gaps, 0),
  };
}

/** Picture jitter (ms, PictureTiming.jitterMs) up to which a watch counts the page as steady: 2.3–3.4 ms at 720p and for the 1080p page alone, 5–15 ms at 1080p with an encoder beside it. */
export const STEADY_JITTER_MS = 4;
/** Room (ms) a settled page leaves between its pictures and the grab span (margins included). */
export const SETTLED_ROOM_MS = 3;

/**
 * Whether a watch saw the page settled: its pictures came on the beat (none off it, jitter up to
 * STEADY_JITTER_MS) and the nearest arrived at least SETTLED_ROOM_MS from the grab span (`roomMs`,
 * spanFit's clearance). Pictures that come unsteadily wander within the slot and can move into the span
 * at any time (in one 1080p bench run, 10 s after a watch that saw none there; 25 % of frames were
 * repeated from then on), so the recorder watches such a page more often.
 */
export function picturesSettled(timing: PictureTiming | undefined, roomMs: number): boolean {
  return timing !== undefined && timing.offBeat === 0 && timing.jitterMs <= STEADY_JITTER_MS && roomMs >= SETTLED_ROOM_MS;
}

/** Arrivals needed before the measured phase is used (~0.15 s of 30 fps video). */
export const MIN_ARRIVALS = 5;

/**
 * The grab phase (ms after the start of `clock`'s period) from picture arrivals. The recorder passes the
 * output slot as the period (slotClock: two ticks at 30 fps), since the kept grab falls in one tick of each
 * slot. Pictures arrive in a narrow window of the slot (at 1080p a wider one), and the kept grab falls
 * anywhere in the `grabSpanMs` after the phase (one grab interval), so the phase is the one whose span
 * holds the fewest arrivals and, among those, lies farthest from the nearest one (tried every 0.25 ms). A
 * stray arrival (a page that repainted for another reason) does not move it far. Undefined with fewer than
 * MIN_ARRIVALS arrivals.
 */
export function grabPhaseFromArrivals(clock: FrameClock, arrivalsMs: number[], grabSpanMs: number): { phase: number; inside: number } | undefined {
  if (arrivalsMs.length < MIN_ARRIVALS) return undefined;
  let best: { phase: number; inside: number; clearance: number } | undefined;
  for (let phase = 0; phase < clock.intervalMs; phase += 0.25) {
    const { inside, clearance } = spanFit(clock, arrivalsMs, phase, grabSpanMs);
    if (!best || inside < best.inside || (inside === best.inside && clearance > best.clearance)) best = { phase, inside, clearance };
  }
  return { phase: best!.phase, inside: best!.inside };
}

/** Where wall-clock time `t` falls in its period of `clock`: ms after the period's start (0 to intervalMs). */
export function msIntoPeriod(clock: FrameClock, t: number): number {
  const period = clock.intervalMs;
  return (((t - clock.tickWallMs) % period) + period) % period;
}

/**
 * How the grab span [phase, phase + grabSpanMs] of each period of `clock` (a tick, or a slot; see
 * slotClock) sits among picture arrivals: how many arrive inside it, and how far the nearest one outside it
 * is (ms).
 */
export function spanFit(clock: FrameClock, arrivalsMs: number[], phase: number, grabSpanMs: number): { inside: number; clearance: number } {
  const tick = clock.intervalMs;
  let inside = 0;
  let clearance = tick;
  for (const t of arrivalsMs) {
    const after = msIntoPeriod(clock, t - phase);
    if (after <= grabSpanMs) inside++;
    else clearance = Math.min(clearance, after - grabSpanMs, tick - after);
  }
  return { inside, clearance };
}

/**
 * Whether a watch moves the grab (see the recorder's followPictures). The running encoder's grab span
 * holds `inSpan` of the watched `arrivals`, the best phase's span `inBestSpan`. Moved only when clearly
 * fewer pictures arrive in the best span: each move runs two encoders for ~1 s, adds 21–43 ms to the
 * file and can stall the page itself for a moment (the flash and the beep both moved ~30 ms at some
 * takeovers), so after the first watch only a span that 25 % of the pictures arrive in is moved (with 40 %,
 * a 1080p span that 3 of 9 pictures arrived in was kept, and 5.8 % of frames were repeated). A run that is
 * not phase-locked (it started before the frame clock was known, so it grabs on a plain 1/fps grid on
 * ffmpeg's timer) is always moved: any picture may arrive at its grabs, wherever the watch saw them (one
 * 1080p bench run stayed on the grid, with 17 % repeated frames).
 */
export function shouldMoveGrab(o: { phaseLocked: boolean; watch: number; arrivals: number; inSpan: number; inBestSpan: number; phaseMs: number; bestPhaseMs: number }): boolean {
  if (!o.phaseLocked) return true;
  const needed = o.arrivals * (o.watch === 1 ? 0.15 : 0.25);
  return o.inSpan - o.inBestSpan >= Math.max(2, needed) && Math.abs(o.bestPhaseMs - o.phaseMs) >= 1;
}
