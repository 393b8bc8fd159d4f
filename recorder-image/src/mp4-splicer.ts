/**
 * One file from several encoder runs. A pause stops ffmpeg (nothing is grabbed or encoded while paused) and
 * a resume starts a new one; each run writes its own fragmented MP4 (`ftyp moov | moof mdat | ...`). The
 * splicer joins them at the box level into one continuous fMP4 that goes to the one upload:
 *
 *  - the first run's `ftyp`/`moov` start the file; later runs' are dropped (their tracks must match: same
 *    ids and timescales; the encoder settings are the same, so the codec headers are too);
 *  - every fragment is rewritten: `mfhd` sequence numbers keep counting up across runs, and each run's
 *    decode times (`tfdt`) are shifted by one offset for all tracks, so that the run starts where the file
 *    ended (sound and picture keep their relative timing, and no track's timestamps go backwards);
 *  - `mfra` (ffmpeg's closing index, with byte offsets of one run) and any other top-level box are dropped;
 *  - a run is cut at a wall-clock instant (the pause or stop request): samples from that instant on are
 *    dropped, and a picture that spans it is shortened to end there.
 *
 * Fragments are held back until the control channel has confirmed that no cut falls inside them (a poll
 * that started after their end still saw RECORDING): a fragment is written when the encoder reaches the
 * next keyframe, which can be after a pause request the recorder has not seen yet, and what the client
 * asked not to record must never reach S3. Held fragments are let through after `maxHoldMs` without a
 * confirmation, so a control channel that has gone quiet delays the upload but does not fill memory.
 *
 * Times: each run's media time 0 is at a known wall-clock instant (`zeroWallMs`, see FfmpegCapture), so a
 * sample's wall-clock time is zeroWallMs + its decode time.
 */
import { PassThrough } from 'node:stream';
import type { Logger } from './log.ts';
import { Mp4BoxReader, parseFragment, parseMovie, runEnd, writeFragment, type Mp4Fragment, type Mp4Sample, type Mp4Track } from './mp4-boxes.ts';

/**
 * The shortest time a picture lasts in the file (s): the least gap between two kept grabs (the capture's
 * videoFilter), and the least a picture is shown for before a cut.
 */
export const MIN_SHOWN_S = 0.01;

export interface SplicerOptions {
  /** Unconfirmed fragments older than this are written anyway. @default 15000 */
  maxHoldMs?: number;
  log?: Logger;
  now?: () => number;
  /** Called with each fragment an encoder run writes, as read (before any cut): `run` counts runs from 0. */
  onFragment?: (f: { run: number; zeroWallMs: number; fragment: Mp4Fragment; tracks: Map<number, Mp4Track> }) => void;
}

interface Run {
  zeroWallMs: number;
  reader: Mp4BoxReader;
  tracks?: Map<number, Mp4Track>;
  pendingMoof?: Buffer;
  /** Where the run sits in the file (seconds); fixed when its first fragment is written. */
  offsetSeconds?: number;
  /** File position where the run ended (set once it has ended and its last fragment is written). */
  endSeconds?: number;
  cutWallMs?: number;
  ended: boolean;
  /** Tracks of which this run has written a sample. */
  startedTracks: Set<number>;
}

interface Held {
  run: Run;
  fragment: Mp4Fragment;
  endWallMs: number;
  heldSinceMs: number;
}

export interface SpliceStats {
  runs: number;
  fragments: number;
  /** Samples dropped because they came at or after a cut. */
  samplesCut: number;
  /** Fragments written without a confirmation (the control channel was quiet for maxHoldMs). */
  unconfirmedWrites: number;
}

export class Mp4Splicer {
  readonly output = new PassThrough();
  private readonly maxHoldMs: number;
  private readonly log?: Logger;
  private readonly now: () => number;
  private readonly onFragment?: SplicerOptions['onFragment'];
  private readonly runs: Run[] = [];
  private tracks?: Map<number, Mp4Track>;
  private ftyp?: Buffer;
  private held: Held[] = [];
  private confirmedUntilMs = Number.NEGATIVE_INFINITY;
  private sequence = 0;
  /** Per track: decode time in the file (track ticks) just after the last sample written. */
  private readonly trackEnds = new Map<number, number>();
  private failure?: Error;
  private readonly failureListeners: ((err: Error) => void)[] = [];
  private finished = false;
  readonly stats: SpliceStats = { runs: 0, fragments: 0, samplesCut: 0, unconfirmedWrites: 0 };

  constructor(options: SplicerOptions = {}) {
    this.maxHoldMs = options.maxHoldMs ?? 15_000;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.onFragment = options.onFragment;
  }

  /** Starts the next run; its media time 0 is wall-clock `zeroWallMs`. The previous run must have ended. */
  beginRun(zeroWallMs: number): void {
    const last = this.runs.at(-1);
    if (last && !last.ended) throw new Error('The previous encoder run has not ended');
    if (this.finished) throw new Error('The file is finished');
    this.runs.push({ zeroWallMs, reader: new Mp4BoxReader(), ended: false, startedTracks: new Set() });
    this.stats.runs++;
  }

  /** The next bytes of the current run's stream. */
  write(chunk: Buffer): void {
    const run = this.current;
    if (!run || run.ended || this.failure) return;
    try {
      for (const { type, bytes } of run.reader.push(chunk)) this.onBox(run, type, bytes);
      this.pump();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** The current run ends at wall-clock `wallMs`: nothing from then on is written. */
  cutAt(wallMs: number): void {
    const run = this.current;
    if (!run || run.cutWallMs !== undefined) return;
    run.cutWallMs = wallMs;
    this.pump();
  }

  /** The current run's stream ended (its process exited). */
  endRun(): void {
    const run = this.current;
    if (!run || run.ended) return;
    run.ended = true;
    if (run.reader.pendingBytes > 0) this.log?.warn('encoder run ended inside a box; its unfinished end is dropped', { bytes: run.reader.pendingBytes });
    this.pump();
    run.endSeconds = this.durationSeconds;
    run.offsetSeconds ??= run.endSeconds;
  }

  /** No cut falls before wall-clock `wallMs` (a control poll that started then saw no pause or stop). */
  confirmUntil(wallMs: number): void {
    if (wallMs <= this.confirmedUntilMs) return;
    this.confirmedUntilMs = wallMs;
    this.pump();
  }

  /** Ends the file: the current run ends, everything held is written, and the output stream ends. */
  finish(): void {
    if (this.finished) return;
    this.endRun();
    this.finished = true;
    this.output.end();
  }

  /** Seconds of media written so far: where the file ends. */
  get durationSeconds(): number {
    let end = 0;
    for (const [id, ticks] of this.trackEnds) end = Math.max(end, ticks / this.tracks!.get(id)!.timescale);
    return end;
  }

  /** Where wall-clock `wallMs` falls in the file (seconds); a moment in a pause maps to where the pause sits. */
  positionAt(wallMs: number): number {
    let position = 0;
    for (const run of this.runs) {
      if (wallMs < run.zeroWallMs) break;
      const offset = run.offsetSeconds ?? this.durationSeconds;
      position = offset + (wallMs - run.zeroWallMs) / 1000;
      if (run.endSeconds !== undefined) position = Math.min(position, run.endSeconds);
    }
    return position;
  }

  /** Resolves with the first malformed-stream error; never resolves otherwise. */
  failed(): Promise<Error> {
    return new Promise((resolve) => (this.failure ? resolve(this.failure) : this.failureListeners.push(resolve)));
  }

  private get current(): Run | undefined {
    return this.runs.at(-1);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const listener of this.failureListeners) listener(err);
  }

  private onBox(run: Run, type: string, bytes: Buffer): void {
    switch (type) {
      case 'ftyp':
        if (!this.tracks) this.ftyp = Buffer.from(bytes);
        return;
      case 'moov': {
        const tracks = parseMovie(bytes);
        if (!this.tracks) {
          this.tracks = tracks;
          if (this.ftyp) this.output.write(this.ftyp);
          this.output.write(Buffer.from(bytes));
        } else {
          checkCompatible(this.tracks, tracks, this.log);
        }
        run.tracks = tracks;
        return;
      }
      case 'moof':
        run.pendingMoof = bytes;
        return;
      case 'mdat': {
        if (!run.pendingMoof || !run.tracks) return;
        const fragment = parseFragment(run.pendingMoof, bytes, run.tracks);
        run.pendingMoof = undefined;
        this.onFragment?.({ run: this.runs.indexOf(run), zeroWallMs: run.zeroWallMs, fragment, tracks: run.tracks });
        const endTicks = fragment.runs.map((r) => (runEnd(r) / run.tracks!.get(r.trackId)!.timescale) * 1000);
        this.held.push({ run, fragment, endWallMs: run.zeroWallMs + Math.max(0, ...endTicks), heldSinceMs: this.now() });
        return;
      }
      default:
        // mfra (byte offsets of one run), free, and anything else a single run might add.
        return;
    }
  }

  /** Writes the held fragments that may go, in order. */
  private pump(): void {
    while (this.held.length > 0) {
      const next = this.held[0]!;
      const { run } = next;
      const confirmed = next.endWallMs <= this.confirmedUntilMs;
      const settled = run.cutWallMs !== undefined || run.ended;
      const overdue = this.now() - next.heldSinceMs > this.maxHoldMs;
      if (!confirmed && !settled && !overdue) return;
      if (overdue && !confirmed && !settled) {
        this.stats.unconfirmedWrites++;
        if (this.stats.unconfirmedWrites === 1) this.log?.warn('control channel quiet: writing media without a confirmation that no pause came', { heldMs: this.now() - next.heldSinceMs });
      }
      this.held.shift();
      this.writeFragment(next);
    }
  }

  private writeFragment({ run, fragment }: Held): void {
    const tracks = run.tracks!;
    const runs = fragment.runs.map((r) => {
      const track = tracks.get(r.trackId)!;
      let samples = r.samples;
      if (run.cutWallMs !== undefined) {
        const cutTicks = ((run.cutWallMs - run.zeroWallMs) / 1000) * track.timescale;
        let t = r.baseTime;
        const kept: Mp4Sample[] = [];
        for (const s of samples) {
          if (t >= cutTicks) break;
          // A picture shown across the cut is shown until the cut; sound keeps whole codec frames.
          if (track.handler === 'vide' && t + s.duration > cutTicks) {
            const shownTicks = Math.max(1, Math.ceil(cutTicks - t));
            const before = kept.at(-1);
            // One that would be shown for less than MIN_SHOWN_S is left out (at a grab move's takeover, the
            // old encoder's last grab can fall 1 ms before the new one's first): the picture before it is
            // shown until the cut.
            if (before && shownTicks < MIN_SHOWN_S * track.timescale) kept[kept.length - 1] = { ...before, duration: before.duration + shownTicks };
            else kept.push({ ...s, duration: shownTicks });
          } else {
            kept.push(s);
          }
          t += s.duration;
        }
        this.stats.samplesCut += samples.length - kept.length;
        samples = kept;
      }
      return { ...r, samples };
    });
    if (!runs.some((r) => r.samples.length > 0)) return;
    // The run's place in the file: where the file ends when its first fragment is written.
    if (run.offsetSeconds === undefined) {
      run.offsetSeconds = this.durationSeconds;
      // Where the run's wall clock falls in the file, for reading a recording's timing afterwards.
      this.log?.info('encoder run placed', { run: this.runs.indexOf(run) + 1, fileSeconds: run.offsetSeconds, zeroWallMs: run.zeroWallMs });
    }
    const offsetSeconds = run.offsetSeconds;
    const shifted = runs
      .filter((r) => r.samples.length > 0)
      .map((r) => {
        const { timescale } = tracks.get(r.trackId)!;
        // One offset in seconds for every track; rounded up, and never before the track's previous end.
        const offsetTicks = Math.ceil(offsetSeconds * timescale - 1e-6);
        const previousEnd = this.trackEnds.get(r.trackId) ?? 0;
        let baseTime = Math.max(r.baseTime + offsetTicks, previousEnd);
        let samples = r.samples;
        if (!run.startedTracks.has(r.trackId) && tracks.get(r.trackId)!.handler === 'vide' && baseTime > previousEnd) {
          // The run's first picture starts where the last one ended (the offset follows whichever track
          // ended last, usually sound): no hole in the picture's timeline, and sound is left untouched.
          samples = [{ ...samples[0]!, duration: samples[0]!.duration + (baseTime - previousEnd) }, ...samples.slice(1)];
          baseTime = previousEnd;
        }
        run.startedTracks.add(r.trackId);
        const shiftedRun = { ...r, baseTime, samples };
        this.trackEnds.set(r.trackId, runEnd(shiftedRun));
        return shiftedRun;
      });
    this.sequence++;
    this.stats.fragments++;
    this.output.write(writeFragment({ sequence: this.sequence, runs: shifted }));
  }
}

/** A later run's tracks must be the file's tracks: the same ids, kinds and timescales. */
function checkCompatible(file: Map<number, Mp4Track>, next: Map<number, Mp4Track>, log?: Logger): void {
  for (const [id, track] of next) {
    const known = file.get(id);
    if (!known || known.handler !== track.handler || known.timescale !== track.timescale) {
      throw new Error(`The resumed encoder's track ${id} (${track.handler}, timescale ${track.timescale}) does not match the file's`);
    }
    // Same settings give the same codec headers; if they ever differ, decoders may show errors after it.
    if (!known.sampleDescription.equals(track.sampleDescription)) log?.warn('resumed encoder has different codec headers', { trackId: id, handler: track.handler });
  }
}
