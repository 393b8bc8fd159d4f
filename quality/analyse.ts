/**
 * Measures a recording of the sync test media (sync-media.ts): repeated and skipped frames from the frame
 * code, and A/V sync from the flash (first frame of each second) against the beep that starts at the same
 * source instant.
 *
 * Two ffmpeg processes decode the file side by side, each streaming small raw data through a pipe:
 *  - video: every decoded frame scaled to a 128×100 gray picture (12.8 kB; nothing else is kept), with
 *    `showinfo` printing each frame's pts on stderr, in the same order;
 *  - audio: mono 32-bit float at 48 kHz, with `ashowinfo` printing each audio frame's pts and sample count.
 * Both run with -copyts, so the timestamps are the decoded presentation timestamps as the demuxer gives them
 * (edit lists applied, stream start offsets kept) and audio and video share one timeline. The time of an
 * audio sample is the pts of the decoded audio frame that holds it plus its position in that frame, which
 * stays right across a late audio start and across gaps in the audio track (a plain "sample count / rate +
 * stream start time" would not: ffmpeg's fragmented MP4 can hold a gap after the first AAC packet).
 *
 * Definitions (all counts over the analysed window, see below):
 *  - readable frame: all 16 code bits decoded with a clear margin; otherwise unreadable.
 *  - For consecutive readable frames p → c, `g` output frames apart, showing indices a → b (Δ = b − a):
 *    repeated += max(0, g − Δ), skipped += max(0, Δ − g); Δ < 0 counts as a backward jump instead.
 *    With g = 1 this is: Δ = 0 is one repeated frame, Δ > 1 skipped Δ − 1 source frames.
 *  - repeatedPct / skippedPct: those counts as a percentage of the output frames in the analysed window.
 *  - Analysed window: from the last frame of the first run of the first readable index (the video sitting
 *    on its first frame before playback starts is lead-in, not repeats) to the first frame of the last run
 *    of the last readable index (a video frozen at its end, or the page after it, is tail).
 *  - Flash time: pts of the first output frame of a run of bright-body frames (after a dark one: the
 *    transition must be seen) whose code says it is the flash frame k·fps (or, if the bright frame itself
 *    is unreadable or torn, whose neighbours say so: counted in `flashCodeMismatches`). A second after the
 *    window's first frame whose flash frame never reached the output is `missedFlashes` and has no pair.
 *  - Beep onset: after ≥ 300 ms heard below the gate, the first sample whose |amplitude| reaches half the
 *    peak of the following 80 ms (for the clean 1 kHz sine that is 1/12 ms after the true start).
 *    Its pitch, measured over the next 60 ms, names its second modulo 8 (see sync-code.ts).
 *  - Offset: beep onset − flash time of the same second: the nearest beep within ±pairWindowMs whose pitch
 *    names that second; positive = audio late. With one pitch for every second, the nearest beep within
 *    ±500 ms would be the rule, and an offset beyond ±500 ms would be read as the neighbouring second's.
 *    The pitch removes that ambiguity up to ±4 s, so the default window is ±3 s.
 */
import { spawn } from 'node:child_process';
import { ANALYSIS_HEIGHT, ANALYSIS_WIDTH, AUDIO_SAMPLE_RATE, BEEP_CYCLE, BEEP_SECONDS, beepId, DEFAULT_CODE_MARGIN, readFrame } from './sync-code.ts';

export interface AnalyseOptions {
  /** Frame rate of the sync media (not of the recording): the flash is source frame k·fps. */
  fps: number;
  /** Region of the recording that shows the video, in pixels; default the whole picture. */
  crop?: { x: number; y: number; width: number; height: number };
  /** Body gray level (0–255) above which a frame counts as flashing; default 150 (body ≈ 64, flash ≈ 255). */
  flashLevel?: number;
  /** Minimum bit/inverted-bit difference for a readable code; default 60. */
  codeMargin?: number;
  /** |Amplitude| above which audio is not quiet (full scale 1.0; the beep peaks at 0.5); default 0.02. */
  beepGate?: number;
  /** Longest |beep − flash| that still pairs; default 3000 ms (the beep's pitch must name the flash's second). */
  pairWindowMs?: number;
}

/** One decoded output frame. */
export interface FrameSample {
  /** Presentation time in seconds (decoded pts). */
  pts: number;
  /** Source frame index the code shows, or null if unreadable. */
  index: number | null;
  /** Mean gray level of the flash area. */
  bodyLevel: number;
}

export interface FlashBeepPair {
  /** Source second k: flash frame k·fps, beep at k s in the source. */
  second: number;
  flashTime: number;
  beepTime: number;
  /** beepTime − flashTime in ms: positive = audio late. */
  offsetMs: number;
}

export interface QualityReport {
  file: string;
  durationSeconds: number;
  width: number;
  height: number;
  /** Frame rate of the sync media the analysis assumed. */
  fps: number;
  /** Decoded output frames in the whole file. */
  frames: number;
  /** pts of the first decoded video frame / first decoded audio sample (null: no audio). */
  videoStartTime: number;
  audioStartTime: number | null;
  /** Output frames before / after the analysed window (see the module comment). */
  leadInFrames: number;
  tailFrames: number;
  /** Output frames in the analysed window. */
  analysedFrames: number;
  /** Source indices at the window's start and end (null: no readable frame). */
  firstIndex: number | null;
  lastIndex: number | null;
  /** Unreadable output frames inside the analysed window. */
  unreadableFrames: number;
  repeatedFrames: number;
  skippedFrames: number;
  /** Times the index went backwards (the media looped or was seeked). */
  backwardJumps: number;
  repeatedPct: number;
  skippedPct: number;
  /** Flash times (s) in order. */
  flashes: number[];
  /** Seconds in the window whose flash frame never reached the output (skipped): no pair for them. */
  missedFlashes: number;
  /** Flashes placed by neighbouring frames' codes because the bright frame's own code did not say k·fps. */
  flashCodeMismatches: number;
  /** Beep onset times (s) in order. */
  beeps: number[];
  /** For each beep, the second modulo 8 its pitch names (null: not one of the pitches). */
  beepIds: (number | null)[];
  pairs: number;
  /** Flashes with no beep within the pairing window. */
  unpairedFlashes: number;
  avOffsetMeanMs: number | null;
  avOffsetMedianMs: number | null;
  /** Sample standard deviation of the offsets. */
  avOffsetStdMs: number | null;
  /** Mean offset of the last 60 s minus the first 60 s of pairs (thirds when the pairs span < 3 min). */
  avDriftMs: number | null;
  offsetsMs: number[];
  pairList: FlashBeepPair[];
  frameSamples: FrameSample[];
}

const FRAME_BYTES = ANALYSIS_WIDTH * ANALYSIS_HEIGHT;
const QUIET_SECONDS = 0.3;

export async function analyseRecording(file: string, opts: AnalyseOptions): Promise<QualityReport> {
  const fps = opts.fps;
  const info = await probe(file);
  if (!info.video) throw new Error(`${file}: no video stream`);
  const [frameSamples, audio] = await Promise.all([
    decodeVideo(file, opts),
    info.hasAudio ? decodeAudio(file, opts.beepGate ?? 0.02) : Promise.resolve(null),
  ]);
  if (frameSamples.length === 0) throw new Error(`${file}: no video frames decoded`);

  const win = analysedWindow(frameSamples);
  const counts = countFrames(frameSamples, win);
  const flashes = findFlashes(frameSamples, win, fps, opts.flashLevel ?? 150);
  const beeps = audio?.beeps ?? [];
  const pairList = pairFlashes(flashes.list, beeps, (opts.pairWindowMs ?? 3000) / 1000);
  const offsetsMs = pairList.map((p) => p.offsetMs);
  const analysedFrames = win ? win.end - win.start + 1 : 0;
  const pct = (n: number) => (analysedFrames ? (100 * n) / analysedFrames : 0);

  return {
    file,
    durationSeconds: info.durationSeconds,
    width: info.video.width,
    height: info.video.height,
    fps,
    frames: frameSamples.length,
    videoStartTime: frameSamples[0].pts,
    audioStartTime: audio?.startTime ?? null,
    leadInFrames: win ? win.start : frameSamples.length,
    tailFrames: win ? frameSamples.length - 1 - win.end : 0,
    analysedFrames,
    firstIndex: win ? frameSamples[win.start].index : null,
    lastIndex: win ? frameSamples[win.end].index : null,
    unreadableFrames: counts.unreadable,
    repeatedFrames: counts.repeated,
    skippedFrames: counts.skipped,
    backwardJumps: counts.backward,
    repeatedPct: pct(counts.repeated),
    skippedPct: pct(counts.skipped),
    flashes: flashes.list.map((f) => f.time),
    missedFlashes: flashes.missed,
    flashCodeMismatches: flashes.mismatches,
    beeps: beeps.map((b) => b.time),
    beepIds: beeps.map((b) => b.id),
    pairs: pairList.length,
    unpairedFlashes: flashes.list.length - pairList.length,
    avOffsetMeanMs: offsetsMs.length ? mean(offsetsMs) : null,
    avOffsetMedianMs: offsetsMs.length ? median(offsetsMs) : null,
    avOffsetStdMs: offsetsMs.length > 1 ? std(offsetsMs) : offsetsMs.length ? 0 : null,
    avDriftMs: drift(pairList),
    offsetsMs,
    pairList,
    frameSamples,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Frame accounting

interface Window {
  start: number;
  end: number;
}

/** The analysed window (see the module comment), or null when no frame is readable. */
function analysedWindow(frames: FrameSample[]): Window | null {
  const readable = frames.map((f, i) => (f.index === null ? -1 : i)).filter((i) => i >= 0);
  if (readable.length === 0) return null;
  const firstIndex = frames[readable[0]].index;
  const lastIndex = frames[readable[readable.length - 1]].index;
  let start = readable[0];
  for (const i of readable) {
    if (frames[i].index !== firstIndex) break;
    start = i;
  }
  let end = readable[readable.length - 1];
  for (let k = readable.length - 1; k >= 0; k--) {
    if (frames[readable[k]].index !== lastIndex) break;
    end = readable[k];
  }
  // A file that shows a single index throughout: the window is that one frame.
  if (end < start) end = start;
  return { start, end };
}

function countFrames(frames: FrameSample[], win: Window | null) {
  const out = { unreadable: 0, repeated: 0, skipped: 0, backward: 0 };
  if (!win) return out;
  let prevPos = -1;
  for (let i = win.start; i <= win.end; i++) {
    const index = frames[i].index;
    if (index === null) {
      out.unreadable++;
      continue;
    }
    if (prevPos >= 0) {
      const gap = i - prevPos;
      const delta = index - (frames[prevPos].index as number);
      if (delta < 0) out.backward++;
      else {
        out.repeated += Math.max(0, gap - delta);
        out.skipped += Math.max(0, delta - gap);
      }
    }
    prevPos = i;
  }
  return out;
}

interface Flash {
  second: number;
  time: number;
}

function findFlashes(frames: FrameSample[], win: Window | null, fps: number, flashLevel: number) {
  const result = { list: [] as Flash[], missed: 0, mismatches: 0 };
  if (!win) return result;
  const found = new Map<number, Flash>();
  const near = (index: number) => {
    const k = Math.round(index / fps);
    return Math.abs(index - k * fps) <= 1 ? k : null;
  };
  for (let i = Math.max(1, win.start); i <= win.end; i++) {
    // A flash is timed by the frame where the body turns bright, so the frame before must be seen dark:
    // a run that starts with the file, or is already bright when the lead-in ends, has no known start.
    if (frames[i].bodyLevel < flashLevel || frames[i - 1].bodyLevel >= flashLevel) continue;
    let j = i;
    while (j + 1 <= win.end && frames[j + 1].bodyLevel >= flashLevel) j++;
    let second: number | null = null;
    let exact = false;
    for (let r = i; r <= j; r++) {
      const index = frames[r].index;
      if (index !== null && index % fps === 0) {
        second = index / fps;
        exact = r === i;
        break;
      }
    }
    if (second === null) {
      // No frame of the run reads as k·fps: use the first readable code in the run, or the one before it.
      const inRun = frames.slice(i, j + 1).find((f) => f.index !== null)?.index;
      let before: number | null = null;
      for (let r = i - 1; r >= 0 && before === null; r--) before = frames[r].index;
      second = inRun != null ? near(inRun) : before !== null ? near(before + 1) : null;
    }
    if (second === null || found.has(second)) continue;
    if (!exact) result.mismatches++;
    found.set(second, { second, time: frames[i].pts });
    i = j;
  }
  const first = frames[win.start].index as number;
  const last = frames[win.end].index as number;
  // The window's first frame cannot show an observed transition (see above): its flash is never "missed".
  for (let k = Math.floor(first / fps) + 1; k * fps <= last; k++) {
    if (!found.has(k)) result.missed++;
  }
  result.list = [...found.values()].sort((a, b) => a.time - b.time);
  return result;
}

interface Beep {
  time: number;
  id: number | null;
}

function pairFlashes(flashes: Flash[], beeps: Beep[], window: number): FlashBeepPair[] {
  const pairs: FlashBeepPair[] = [];
  for (const flash of flashes) {
    let best: Beep | undefined;
    for (const beep of beeps) {
      if (beep.id !== flash.second % BEEP_CYCLE || Math.abs(beep.time - flash.time) > window) continue;
      if (!best || Math.abs(beep.time - flash.time) < Math.abs(best.time - flash.time)) best = beep;
    }
    if (best) pairs.push({ second: flash.second, flashTime: flash.time, beepTime: best.time, offsetMs: (best.time - flash.time) * 1000 });
  }
  return pairs;
}

function drift(pairs: FlashBeepPair[]): number | null {
  if (pairs.length < 2) return null;
  const t0 = pairs[0].flashTime;
  const t1 = pairs[pairs.length - 1].flashTime;
  const span = t1 - t0 < 180 ? (t1 - t0) / 3 : 60;
  const head = pairs.filter((p) => p.flashTime <= t0 + span).map((p) => p.offsetMs);
  const tail = pairs.filter((p) => p.flashTime >= t1 - span).map((p) => p.offsetMs);
  return head.length && tail.length ? mean(tail) - mean(head) : null;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function std(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

interface ProbeInfo {
  durationSeconds: number;
  video?: { width: number; height: number };
  hasAudio: boolean;
}

async function probe(file: string): Promise<ProbeInfo> {
  let out = '';
  await runFfmpeg('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,width,height', '-of', 'json', file], (d) => (out += d.toString()));
  const json = JSON.parse(out) as { format?: { duration?: string }; streams?: { codec_type: string; width?: number; height?: number }[] };
  const streams = json.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  return {
    durationSeconds: Number(json.format?.duration ?? NaN),
    video: v && { width: v.width ?? 0, height: v.height ?? 0 },
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
  };
}

/** `n: <n> pts: <pts>` of a showinfo/ashowinfo line; pts is in microseconds (the chains end in settb=AVTB). */
const SHOWINFO = /showinfo_\d+ @ [^\]]+\] n:\s*(\d+)\s+pts:\s*(-?\d+)/;
const NB_SAMPLES = /nb_samples:(\d+)/;

async function decodeVideo(file: string, opts: AnalyseOptions): Promise<FrameSample[]> {
  const crop = opts.crop ? `crop=${opts.crop.width}:${opts.crop.height}:${opts.crop.x}:${opts.crop.y},` : '';
  const filter = `${crop}scale=${ANALYSIS_WIDTH}:${ANALYSIS_HEIGHT}:flags=area,format=gray,settb=AVTB,showinfo`;
  const margin = opts.codeMargin ?? DEFAULT_CODE_MARGIN;
  const readings: { index: number | null; bodyLevel: number }[] = [];
  const pts: number[] = [];
  const frame = new Uint8Array(FRAME_BYTES);
  let filled = 0;
  await runFfmpeg(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-copyts', '-i', file, '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filter, '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'],
    (chunk) => {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(FRAME_BYTES - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === FRAME_BYTES) {
          const r = readFrame(frame, margin);
          readings.push({ index: r.index, bodyLevel: r.bodyLevel });
          filled = 0;
        }
      }
    },
    (line) => {
      const m = SHOWINFO.exec(line);
      if (m) pts.push(Number(m[2]) / 1e6);
    },
  );
  if (readings.length !== pts.length) throw new Error(`${file}: ${readings.length} video frames but ${pts.length} timestamps`);
  return readings.map((r, i) => ({ pts: pts[i], ...r }));
}

async function decodeAudio(file: string, gate: number): Promise<{ beeps: Beep[]; startTime: number | null }> {
  const detector = new BeepDetector(gate, AUDIO_SAMPLE_RATE);
  const audioFrames: { pts: number; first: number; count: number }[] = [];
  let decodedSamples = 0;
  let carry = Buffer.alloc(0);
  const filter = `aresample=${AUDIO_SAMPLE_RATE},aformat=sample_fmts=flt:channel_layouts=mono,asettb=AVTB,ashowinfo`;
  await runFfmpeg(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-copyts', '-i', file, '-map', '0:a:0', '-vn', '-sn', '-dn', '-af', filter, '-f', 'f32le', 'pipe:1'],
    (chunk) => {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = data.length - (data.length % 4);
      // Copy: a Float32Array view needs 4-byte alignment, which a pipe chunk does not promise.
      const samples = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + whole));
      detector.push(samples);
      carry = Buffer.from(data.subarray(whole));
    },
    (line) => {
      const m = SHOWINFO.exec(line);
      const n = NB_SAMPLES.exec(line);
      if (m && n) {
        const count = Number(n[1]);
        audioFrames.push({ pts: Number(m[2]) / 1e6, first: decodedSamples, count });
        decodedSamples += count;
      }
    },
  );
  if (decodedSamples !== detector.samples) {
    throw new Error(`${file}: ${detector.samples} audio samples but ashowinfo reported ${decodedSamples}`);
  }
  // Sample number → time: the pts of the decoded audio frame that holds it plus its offset in the frame.
  let f = 0;
  const beeps = detector.onsets.map(({ sample, hz }) => {
    while (f + 1 < audioFrames.length && audioFrames[f + 1].first <= sample) f++;
    return { time: audioFrames[f].pts + (sample - audioFrames[f].first) / AUDIO_SAMPLE_RATE, id: beepId(hz) };
  });
  return { beeps, startTime: audioFrames[0]?.pts ?? null };
}

/**
 * Finds beep onsets in a stream of mono samples, keeping only the last few milliseconds and the beep being
 * measured. A beep starts when |x| rises above `gate` after ≥ 300 ms below it; its onset is the first sample
 * (from 10 ms before that) whose |x| reaches half the peak of the following 80 ms; its pitch comes from the
 * zero crossings of the 60 ms after the onset. The quiet must be heard,
 * so a beep in the first 300 ms of the audio is ignored (it may have started before the audio did), and so is
 * one cut by the end of the audio.
 */
export class BeepDetector {
  /** Onset sample numbers (counted from the first sample pushed) and pitches. */
  readonly onsets: { sample: number; hz: number }[] = [];
  samples = 0;
  private readonly pre: number;
  private readonly quiet: number;
  private readonly history: Float32Array;
  private lastLoud: number;
  private window: Float32Array | null = null;
  private windowFill = 0;
  private windowStart = 0;
  private readonly gate: number;
  private readonly windowLength: number;
  private readonly sampleRate: number;

  constructor(gate: number, sampleRate: number) {
    this.gate = gate;
    this.pre = Math.round(0.01 * sampleRate);
    this.quiet = Math.round(QUIET_SECONDS * sampleRate);
    this.history = new Float32Array(this.pre);
    // The quiet before a beep must be heard: the start of the stream is not quiet.
    this.lastLoud = 0;
    this.sampleRate = sampleRate;
    this.windowLength = this.pre + Math.round(BEEP_SECONDS * sampleRate);
  }

  push(chunk: Float32Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const x = chunk[i];
      const g = this.samples++;
      const loud = Math.abs(x) > this.gate;
      if (this.window) {
        this.window[this.windowFill++] = x;
        if (this.windowFill === this.windowLength) this.measure();
      } else if (loud && g - this.lastLoud >= this.quiet) {
        this.window = new Float32Array(this.windowLength);
        // The 10 ms before.
        for (let k = 0; k < this.pre; k++) this.window[k] = this.history[(g - this.pre + k) % this.pre];
        this.window[this.pre] = x;
        this.windowFill = this.pre + 1;
        this.windowStart = g - this.pre;
      }
      if (loud) this.lastLoud = g;
      this.history[g % this.pre] = x;
    }
  }

  private measure(): void {
    const w = this.window!;
    let peak = 0;
    for (let k = this.pre; k < w.length; k++) peak = Math.max(peak, Math.abs(w[k]));
    let k = 0;
    while (Math.abs(w[k]) < peak / 2) k++;
    // Pitch: sign changes over the 60 ms after the onset (two per period).
    const span = Math.min(Math.round(0.06 * this.sampleRate), w.length - 1 - k);
    let crossings = 0;
    for (let j = k + 1; j <= k + span; j++) if (w[j - 1] < 0 !== w[j] < 0) crossings++;
    this.onsets.push({ sample: this.windowStart + k, hz: (crossings / 2) * (this.sampleRate / span) });
    this.window = null;
  }
}

/** Runs ffmpeg/ffprobe, streaming stdout to `onStdout` and stderr lines to `onLine`; rejects on failure. */
function runFfmpeg(cmd: string, args: string[], onStdout: (chunk: Buffer) => void, onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let partial = '';
    child.stdout.on('data', onStdout);
    child.stderr.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        onLine?.(line);
        if (!SHOWINFO.test(line)) tail = (tail + line + '\n').slice(-3000);
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (partial) onLine?.(partial);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${tail.trim()}`));
    });
  });
}
