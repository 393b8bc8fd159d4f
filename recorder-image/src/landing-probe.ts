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
import { GRAB_EARLY_MS, GRAB_LATE_MS, msIntoPeriod, type FrameClock } from './ffmpeg-capture.ts';

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

/** The watch's ffmpeg: four one-pixel rows grabbed PROBE_RATE times a second for durationMs, to nothing. */
export function probeArgs(o: Pick<LandingProbeOptions, 'display' | 'width' | 'height' | 'durationMs'>): string[] {
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
  return ['-hide_banner', '-nostats', '-loglevel', 'info', '-copyts', ...inputs, '-filter_complex', graph, ...outputs, '-frames:v', String(frames), '-fps_mode', 'passthrough', '-f', 'null', '-'];
}

/**
 * Wall-clock times (ms since the epoch) at which pictures reached the screen: any change of four one-pixel
 * rows across the screen. Empty when nothing on those rows moved (a still page) or the grab failed.
 */
export async function pictureArrivals(o: LandingProbeOptions): Promise<number[]> {
  const child = spawn('ffmpeg', probeArgs(o), { stdio: ['ignore', 'ignore', 'pipe'] });
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
/** Room (ms) a settled page leaves between its pictures and the edges of the grab's safe window (PhaseFit.clearance). */
export const SETTLED_ROOM_MS = 3;

/**
 * Whether a watch saw the page settled: its pictures came on the beat (none off it, jitter up to
 * STEADY_JITTER_MS) and every one arrived at least SETTLED_ROOM_MS inside the grab's safe window
 * (`roomMs`, PhaseFit.clearance). Pictures that come unsteadily wander within the slot and can move out of
 * it at any time (in one 1080p bench run, 10 s after a watch that saw none there; 25 % of frames were
 * repeated from then on), so the recorder watches such a page more often.
 */
export function picturesSettled(timing: PictureTiming | undefined, roomMs: number): boolean {
  return timing !== undefined && timing.offBeat === 0 && timing.jitterMs <= STEADY_JITTER_MS && roomMs >= SETTLED_ROOM_MS;
}

/** Arrivals needed before the measured phase is used (~0.15 s of 30 fps video). */
export const MIN_ARRIVALS = 5;

/** Room (ms) kept between a picture's arrival and the grab: an arrival is placed to within ~1 ms. */
export const ARRIVAL_MARGIN_MS = 1.5;

/**
 * How grabs at `phase` (ms after the start of the slot; see slotClock) sit among the page's picture
 * arrivals, by each picture's age at the grab (how long before it the picture arrived):
 *  - `caught`: pictures that arrive where grabs are taken (GRAB_EARLY_MS before the phase to GRAB_LATE_MS
 *    after it, and ARRIVAL_MARGIN_MS more on each side): the grab sees the old or the new one by chance.
 *  - `fragile`: pictures younger than one tick (`tickMs`) at the grab: one that came a tick late, as under a
 *    1080p encoder's load (2–14 of ~65 intervals off the beat), would arrive after the grab, and the file
 *    would repeat the picture before it and skip it. With one tick per slot there is no such room.
 *  - `clearance`: the least distance of any picture's age from the edges of the safe window (older than a
 *    tick and the margin, younger than a slot less the grab's span), negative when one is outside it.
 */
export interface PhaseFit {
  caught: number;
  fragile: number;
  clearance: number;
}

export function phaseFit(slot: FrameClock, tickMs: number, arrivalsMs: number[], phase: number): PhaseFit {
  const lateRoom = slot.intervalMs >= 2 * tickMs - 0.01 ? tickMs : 0;
  const oldest = slot.intervalMs - GRAB_LATE_MS - ARRIVAL_MARGIN_MS;
  const settled = GRAB_EARLY_MS + ARRIVAL_MARGIN_MS;
  const youngest = lateRoom + settled;
  const fit = { caught: 0, fragile: 0, clearance: slot.intervalMs };
  for (const t of arrivalsMs) {
    const age = msIntoPeriod(slot, slot.tickWallMs + phase - msIntoPeriod(slot, t));
    if (age < settled || age > oldest) fit.caught++;
    else if (age < youngest) fit.fragile++;
    fit.clearance = Math.min(fit.clearance, age - youngest, oldest - age);
  }
  fit.clearance = Math.round(fit.clearance * 100) / 100;
  return fit;
}

/**
 * The grab phase (ms after the start of the slot) from picture arrivals: the one (tried every 0.25 ms) with
 * the fewest pictures caught, then the fewest fragile, then the most clearance (see phaseFit). A 30 fps
 * video's pictures arrive after one tick of each two-tick slot, in a window of a few ms, so the grab goes
 * more than a tick after that window and before the next: a picture that comes a tick late is still
 * grabbed in its own frame. Undefined with fewer than MIN_ARRIVALS arrivals.
 */
export function bestGrabPhase(slot: FrameClock, tickMs: number, arrivalsMs: number[]): { phase: number; fit: PhaseFit } | undefined {
  if (arrivalsMs.length < MIN_ARRIVALS) return undefined;
  let best: { phase: number; fit: PhaseFit } | undefined;
  for (let phase = 0; phase < slot.intervalMs; phase += 0.25) {
    const fit = phaseFit(slot, tickMs, arrivalsMs, phase);
    if (!best || fitBetter(fit, best.fit)) best = { phase, fit };
  }
  return best;
}

/** Whether grabs that fit as `a` are better placed than grabs that fit as `b`: fewer pictures caught, then fewer fragile, then more clearance. */
export function fitBetter(a: PhaseFit, b: PhaseFit): boolean {
  return a.caught < b.caught || (a.caught === b.caught && (a.fragile < b.fragile || (a.fragile === b.fragile && a.clearance > b.clearance)));
}

/**
 * Whether a grab move's new encoder, whose grabs landed at `landedMs` in the slot, is kept (see
 * FfmpegCapture.rephase), judged by the pictures of the watch that chose `best`: never when it catches
 * more of them than the best phase would; when `nearPlace` (within the landing window of the phase); and
 * also farther off where no more of them are fragile than at the best phase and none is more than 1 ms
 * nearer an edge of the safe window than there (PhaseFit.clearance; 0 when the best phase had room).
 * Landings scatter by ±5 ms at 1080p, and a place with room either side need not wait for one in the window.
 */
export function landingFits(slot: FrameClock, tickMs: number, arrivalsMs: number[], best: PhaseFit, landedMs: number, nearPlace: boolean): boolean {
  const fit = phaseFit(slot, tickMs, arrivalsMs, landedMs);
  if (fit.caught > best.caught) return false;
  return nearPlace || (fit.fragile <= best.fragile && fit.clearance >= Math.min(0, best.clearance - 1));
}

/** The least time (ms) from one grab move to a move for a place that is not clear (see shouldMoveGrab). */
export const REPEAT_MOVE_GAP_MS = 60_000;
/** The same when the grab catches pictures (two or more of the watch's): then sooner. */
export const REPEAT_CAUGHT_MOVE_GAP_MS = 15_000;

/**
 * Whether a watch moves the grab (see the recorder's followPictures): `now` is how the running encoder's
 * grab sits among the watched `arrivals`, `best` how the best phase's would (phaseFit). Moved only when
 * clearly fewer pictures are at risk (caught, or caught and fragile together) at the best phase: each move
 * runs two encoders for ~1 s, adds 21–43 ms to the file and can stall the page itself for a moment (the
 * flash and the beep both moved ~30 ms at some takeovers), so after the first watch only when 25 % of the
 * pictures are at risk (with 40 %, a 1080p grab that 3 of 9 pictures arrived at was kept, and 5.8 % of
 * frames were repeated). A run that is not phase-locked (no frame clock: it grabs on a plain 1/fps grid on
 * ffmpeg's timer) is always moved. A watch brought by repeated grabs (`repeating`, see the recorder's
 * REPEAT_TRIGGER) moves the grab to a place clear of every picture it saw (none caught, none fragile) for
 * one picture at risk at the grab (caught, or fragile): the file already shows what the grab costs. To a
 * place that is not clear only when it is much better (`clearlyBetter`: none caught there and at most two
 * fragile, with at least twice as many plus two at risk at the grab), and then at most once a minute
 * (REPEAT_MOVE_GAP_MS since the last move), or 15 s after it when two or more pictures are caught at the
 * grab (REPEAT_CAUGHT_MOVE_GAP_MS): in a later 10-minute 720p run the page's pictures moved to the slot's
 * other tick 10 s after a move, three times, and such watches with 2–3 caught kept the grab for up to 66 s
 * (about a quarter of the run's 316 repeated frames). In a 10-minute 720p bench run the page's pictures came onto the
 * grab for 95 s (650 repeated frames): five such watches found 4–10 pictures at risk at the grab and 1–2
 * fragile at the best place, and kept the grab, until the next scheduled watch moved it. Not for fewer at
 * risk elsewhere in general: where no place is clear (pictures spread over the slot,
 * as at 1080p under load), such watches came every ~8 s, and moving at each of them (four encoders started
 * per move, as the landings scattered) loaded the machine further: 8.2 % repeated frames in a 60 s bench
 * run, against 3.2 % before the trigger; moving there as a scheduled watch would (25 % more at risk) gave
 * four moves in 40 s at 720p in one run, and 19.9 % repeated frames. (Moving for caught pictures only, not
 * fragile ones, kept a 720p grab that every picture reached less than a tick before, after the page's
 * pictures moved to the slot's other tick: 13.7 % repeated frames in a 40 s run.)
 */
export function shouldMoveGrab(o: { phaseLocked: boolean; watch: number; arrivals: number; now: PhaseFit; best: PhaseFit; phaseMs: number; bestPhaseMs: number; repeating?: boolean; sinceMoveMs?: number }): boolean {
  if (!o.phaseLocked) return true;
  if (Math.abs(o.bestPhaseMs - o.phaseMs) < 1) return false;
  const risk = (f: PhaseFit) => f.caught + f.fragile;
  if (o.repeating) {
    if (risk(o.now) > 0 && risk(o.best) === 0) return true;
    const clearlyBetter = o.best.caught === 0 && risk(o.best) <= 2 && risk(o.now) >= 2 * risk(o.best) + 2;
    const gapMs = o.now.caught >= 2 ? REPEAT_CAUGHT_MOVE_GAP_MS : REPEAT_MOVE_GAP_MS;
    return clearlyBetter && o.sinceMoveMs !== undefined && o.sinceMoveMs >= gapMs;
  }
  const needed = Math.max(2, o.arrivals * (o.watch === 1 ? 0.15 : 0.25));
  return o.now.caught - o.best.caught >= needed || risk(o.now) - risk(o.best) >= needed;
}
