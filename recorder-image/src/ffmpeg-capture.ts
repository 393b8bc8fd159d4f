/**
 * The capture/encoder pipeline: ffmpeg grabs the X display and the Pulse monitor and writes fragmented MP4
 * (H.264/AAC) to stdout. Fragmented output can be streamed to S3 while recording and plays even if the
 * process dies, because every fragment is self-contained.
 *
 * A recording is one or more encoder runs (FfmpegRun): a pause ends the running ffmpeg at the pause
 * instant, so that nothing is grabbed, captured or encoded while paused, and a resume starts a new one.
 * FfmpegCapture joins the runs into one continuous file through the splicer (mp4-splicer.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { RecorderError } from './recorder-error.ts';
import { tail, waitForExit } from './child-process.ts';
import type { Logger } from './log.ts';
import type { Mp4Fragment, Mp4Track } from './mp4-boxes.ts';
import { MIN_SHOWN_S, Mp4Splicer, type SpliceStats } from './mp4-splicer.ts';
import { RepeatedGrabs } from './repeated-grabs.ts';

export interface CaptureOptions {
  display: string;
  pulseServer: string;
  audioSource: string;
  width: number;
  height: number;
  fps: number;
  x264Preset: string;
  videoMaxBitrateKbps: number;
  /**
   * The browser's frame clock (see FrameClock). With it, the display is grabbed once per frame in step with
   * the browser's frames (see grabTimer); without it, at the frame rate, whenever ffmpeg's own timer says.
   */
  frameClock?: FrameClock;
  /** Where in the output slot the grab falls (ms after the slot's tick); see defaultGrabPhaseMs. */
  grabPhaseMs?: number;
  /**
   * Start of the output timeline, in whole seconds since the epoch (at or before the capture starts).
   * Both inputs carry wall-clock timestamps; subtracting one shared base keeps them on one timeline.
   */
  timelineBaseSeconds: number;
  /**
   * Where the file starts on that timeline (seconds): a moment by which both inputs are open, so that
   * picture and sound start together. The two inputs open ~0.1–1.3 s apart; without this the file began
   * with up to a second of sound under a frozen first frame.
   */
  startAtSeconds: number;
}

/**
 * Time from an encoder's spawn to the file's start: both inputs open (pulse ~0.06–0.15 s after the spawn,
 * x11grab at the gate, up to one slot later; see grabTimer), x11grab's first two grabs read for its stream
 * info (~70 ms), and the output open. The sooner a run starts, the sooner a resume shows its first frame, and
 * the shorter two encoders run side by side at a grab move.
 */
export const RUN_START_ALLOWANCE_MS = 800;

/**
 * The AAC encoder's priming (1024 samples at 48 kHz). The muxer shifts both tracks so that the first sound
 * packet, which starts this much before the cut, is at media time 0: media time 0 is this long before the
 * wall-clock start of the file.
 */
export const AAC_PRIMING_MS = (1024 / 48_000) * 1000;

/**
 * The browser's frame clock: Chromium draws on a steady tick (60 Hz on Xvfb), and a picture drawn on a tick
 * reaches the display some milliseconds later. Measured in the page (requestAnimationFrame timestamps are the
 * ticks), on the wall clock that ffmpeg stamps grabs with.
 */
export interface FrameClock {
  /** Wall-clock time (ms since the epoch, fractional) of one tick. */
  tickWallMs: number;
  /** Time between ticks (ms). */
  intervalMs: number;
}

/** Memory for grabs waiting for the encoder (see grabQueueSize). */
const GRAB_QUEUE_BYTES = 128 * 2 ** 20;

/**
 * Grabs the encoder's input queue holds: as many as fit in GRAB_QUEUE_BYTES, 16 to 64 (36 at 720p, 16 at
 * 1080p). Each grab is a shared-memory image that x11grab keeps in a pool once made, so the pool grows to
 * the most grabs ever waiting and holds that memory (in ffmpeg and in Xvfb) to the end. At 1080p a queue of
 * 64 (8.3 MB grabs) reached 47–64 images, 390–530 MB; with 16 the bench's peak PSS fell from 1,177–1,497
 * MiB to 925–1,055 MiB (19 runs), with no more repeated frames. See ffmpegArgs on the input order.
 */
export function grabQueueSize(width: number, height: number): number {
  return Math.min(64, Math.max(16, Math.floor(GRAB_QUEUE_BYTES / (width * height * 4))));
}

/**
 * Where a run's grabs are taken around the phase its first grab showed (FfmpegRun.gate.firstGrabInSlotMs):
 * from GRAB_EARLY_MS before to GRAB_LATE_MS after (ms). x11grab's timer wakes late on a busy machine. From the
 * grabs' stamps in the file on the sync page: the median within 0.8 ms of the first grab, and 5 % to 95 % of
 * the grabs from 0.6 ms before it to 3.2 ms after (1080p; 720p: 2.5 ms in all).
 */
export const GRAB_EARLY_MS = 0.5;
export const GRAB_LATE_MS = 3.5;

/**
 * From the gate's byte to x11grab's timer start (ms; see grabTimer): x11grab opens right after the gate
 * input has read it. Measured 1.0–1.9 ms on an idle machine (12 runs). On a busy one the grabs land later
 * than planned (the first run's 0.8 ms at 720p, 3.8 ms at 1080p; 1–15 ms for a grab move's new encoder),
 * so the recorder judges a grab by where it landed (followPictures), and a grab move plans by the lateness
 * seen and replaces an encoder that landed off its place (FfmpegCapture.rephase).
 */
export const GATE_LEAD_MS = 1.2;

/** How long after pulse is open the gate waits at least (ms): ffmpeg must be reading the gate by then. */
const GATE_READY_MS = 8;
/** The last part of the wait for the gate's instant, spent spinning (ms). */
const GATE_SPIN_MS = 5;
/** A gate opened later than this after its instant (ms) would put the grabs off their phase: see openGate. */
const GATE_MAX_LATE_MS = 0.3;
/** Slots the gate may wait for a timer on time, before it opens late (~1 s). */
const GATE_MAX_MISSES = 30;
/** The gate opens this long after the spawn (ms) if ffmpeg has not said that pulse is open by then. */
const GATE_FALLBACK_MS = 3000;

/**
 * Where the grab falls in the output slot (ms after its tick) until the meeting page's pictures have been
 * watched (landing-probe.ts; the recorder then moves the grab where they are settled). From the first sweep
 * on the sync page, a picture reached the screen 12–17 ms after its tick at 720p and 14–20 ms at 1080p;
 * later launches put pictures elsewhere in the tick (2–17 ms), and which of a slot's two ticks a 30 fps
 * video's pictures follow differs too, so this is only a starting point. GRAB_PHASE_MS fixes the phase
 * instead (RecorderConfig.grabPhaseMs).
 */
export function defaultGrabPhaseMs(width: number, height: number): number {
  const at720 = 1280 * 720;
  const at1080 = 1920 * 1080;
  const share = Math.min(1.5, Math.max(0, (width * height - at720) / (at1080 - at720)));
  return 2 + 2.5 * share;
}

/**
 * Grabbing in step with the browser, once per output frame. x11grab grabs on its own timer, which starts
 * when the input is opened and then ticks every frame interval (whole microseconds, on the monotonic clock
 * Chromium ticks on). Chromium's slot of two 16.666 ms ticks is 33,332 µs, so a `-framerate` of
 * 1000000/33332 keeps every grab at one place in the browser's slot for as long as the recording runs; the
 * timer's start sets that place. ffmpeg opens its inputs one after another, so a gate input (a pipe that
 * gives its one byte when the recorder writes it) is opened just before x11grab: the recorder writes the
 * byte at the instant that puts the grabs at the grab phase (GATE_LEAD_MS before). A grab that falls where
 * a picture is being put on the screen sees the old or the new picture by chance, and the file gets a
 * repeated frame next to a skipped one, so the phase is chosen where the page's pictures are settled.
 *
 * It replaces grabbing four times per frame (at 120 Hz on ffmpeg's timer) and keeping the first grab of
 * each slot: the kept grab fell anywhere in an 8.3 ms span, which took most of the room between a picture
 * and the next, and the three other grabs cost Xvfb a screen copy each (~0.04 cores at 720p).
 *
 * The select filter still keeps one grab per slot (slots centred on the grab phase): after a stall x11grab
 * catches up with a burst of grabs, and only the first of them is kept. Undefined without a clock, or when
 * a slot is not a whole number of ticks: videoFilter then uses a plain 1/fps grid.
 */
export function grabTimer(o: Pick<CaptureOptions, 'frameClock' | 'grabPhaseMs' | 'fps' | 'width' | 'height' | 'timelineBaseSeconds'>):
  | { slot: FrameClock; framerate: string; slotOriginSeconds: number; slotSeconds: number; gateAt(readyMs: number): number }
  | undefined {
  const slot = o.frameClock && slotClock(o.frameClock, o.fps);
  if (!slot) return undefined;
  const slotUs = Math.round(slot.intervalMs * 1000);
  const grabWallMs = slot.tickWallMs + (o.grabPhaseMs ?? defaultGrabPhaseMs(o.width, o.height));
  const slotOriginMs = grabWallMs - slot.intervalMs / 2 - o.timelineBaseSeconds * 1000;
  return {
    slot,
    framerate: `1000000/${slotUs}`,
    slotOriginSeconds: slotOriginMs / 1000,
    slotSeconds: slot.intervalMs / 1000,
    // The first instant from `readyMs` on at which the gate's byte puts the grabs at the phase.
    gateAt: (readyMs: number) => {
      const gate = grabWallMs - GATE_LEAD_MS;
      return gate + Math.ceil((readyMs - gate) / slot.intervalMs) * slot.intervalMs;
    },
  };
}

/**
 * The output slots on the browser's clock: one frame long, a whole number of ticks, starting on a tick.
 * Slots follow the ticks, not the nominal frame rate: 2 x 16.666 ms at 30 fps on a 60 Hz tick (see
 * chromiumTickMs); 1/30 s slots slid 2.4 ms a minute against the ticks, into the window where the picture
 * changes. Undefined when a frame is not a whole number of ticks.
 */
export function slotClock(clock: FrameClock, fps: number): FrameClock | undefined {
  if (!(clock.intervalMs > 0)) return undefined;
  const ticksPerSlot = 1000 / fps / clock.intervalMs;
  if (Math.abs(ticksPerSlot - Math.round(ticksPerSlot)) > 0.02 || Math.round(ticksPerSlot) < 1) return undefined;
  return { tickWallMs: clock.tickWallMs, intervalMs: Math.round(ticksPerSlot) * clock.intervalMs };
}

/** Where wall-clock time `t` falls in its period of `clock`: ms after the period's start (0 to intervalMs). */
export function msIntoPeriod(clock: FrameClock, t: number): number {
  const period = clock.intervalMs;
  return (((t - clock.tickWallMs) % period) + period) % period;
}

/** What the capture needs; each run adds its own timeline base and start. */
export type CaptureSettings = Omit<CaptureOptions, 'timelineBaseSeconds' | 'startAtSeconds'>;

export interface CaptureProgress {
  frame: number;
  outTimeSeconds: number;
  dropFrames: number;
  dupFrames: number;
}

/**
 * How much later than planned a grab move (FfmpegCapture.rephase) expects the grabs to land, until the
 * recording's encoders have shown it (then the median of what they showed, up to GATE_MAX_LATE_PLAN_MS):
 * x11grab's opening waits for a CPU (see GATE_LEAD_MS). In one 1080p bench run four new encoders all landed
 * 4.0–9.5 ms after a plan made 1 ms early; on an idle machine they land within ~0.7 ms of the plan.
 */
const GATE_EXPECTED_LATE_MS = 0.5;
const GATE_MAX_LATE_PLAN_MS = 8;
/** A new encoder's first grab within this much before or after the place it was started for is kept (ms). */
export const LANDING_EARLY_MS = 1;
export const LANDING_LATE_MS = 2.5;
/** New encoders a grab move starts at most, one after another, for a first grab that lands in place. */
export const REPHASE_TRIES = 4;

/** `ms` wrapped into the frame clock's slot (0 to its length); as is without a clock. */
function inSlot(ms: number, clock: FrameClock | undefined, fps: number): number {
  const slot = clock && slotClock(clock, fps);
  return slot ? round3(msIntoPeriod({ tickWallMs: 0, intervalMs: slot.intervalMs }, ms)) : ms;
}

/** How far `landedMs` is after `placeMs` in the slot (ms; negative before it), the shorter way round. */
export function offPlace(landedMs: number, placeMs: number, clock: FrameClock | undefined, fps: number): number {
  const slot = clock && slotClock(clock, fps);
  const d = landedMs - placeMs;
  return slot ? d - Math.round(d / slot.intervalMs) * slot.intervalMs : d;
}

/** Whether `landedMs` is within LANDING_EARLY_MS before and LANDING_LATE_MS after `placeMs` in the slot. */
export function landedNear(landedMs: number, placeMs: number, clock: FrameClock | undefined, fps: number): boolean {
  const off = offPlace(landedMs, placeMs, clock, fps);
  return off >= -LANDING_EARLY_MS && off <= LANDING_LATE_MS;
}

/** The child's file descriptor of the gate input (see grabTimer). */
const GATE_FD = 4;

/**
 * The video filter: the shared timeline base off the grabs' wall-clock stamps, and the first grab of each
 * slot kept. Slots are one frame long, centred on the grab phase (grabTimer) when the browser's frame clock
 * is known, otherwise a plain 1/fps grid (grabs then fall wherever ffmpeg's timer puts them).
 */
export function videoFilter(o: Pick<CaptureOptions, 'frameClock' | 'grabPhaseMs' | 'fps' | 'width' | 'height' | 'timelineBaseSeconds'>): string {
  const grab = grabTimer(o) ?? { slotOriginSeconds: 0, slotSeconds: 1 / o.fps };
  const slot = (time: string) => `floor((${time}-${grab.slotOriginSeconds.toFixed(6)})/${grab.slotSeconds.toFixed(9)})`;
  // A kept grab at least MIN_SHOWN_S after the previous one: a late grab at the end of one slot and the
  // next slot's first grab can be a fraction of a ms apart (under load), which gave two pictures one
  // millisecond timestamp. The slot's next grab is kept instead.
  return `setpts=PTS-${o.timelineBaseSeconds}/TB,select='isnan(prev_selected_t)+gt(${slot('t')},${slot('prev_selected_t')})*gte(t-prev_selected_t,${MIN_SHOWN_S})'`;
}

/** Seconds of sound, from the input's first packet, stamped as PulseAudio stamps them (see audioFilter). */
export const AUDIO_SETTLE_SECONDS = 2;
/** Longest time (seconds) over which the sample-counted sound timeline averages PulseAudio's stamps. */
export const AUDIO_FOLLOW_SECONDS = 30;

/**
 * The sound's timestamps: counted in samples, and placed by PulseAudio's wall-clock stamps averaged over
 * up to AUDIO_FOLLOW_SECONDS.
 *
 * ffmpeg's pulse input stamps each packet with the time of reading minus PulseAudio's latency estimate,
 * smoothed by a filter. Its first packets are off by up to ~0.6 s (the estimate is not ready yet), and
 * under load the smoothed stamps wander by ~10 ms over seconds: in the bench, the beep moved by 11 ms within
 * one encoder run while the flashes, grabbed on the wall clock, stayed put. Counting samples is exact from
 * one packet to the next, but the sink's sample clock and the wall clock differ by tens of ppm (~25 ms in
 * 10 minutes), so the count alone would drift away from the picture.
 *
 * So, for the first AUDIO_SETTLE_SECONDS the stamps are PulseAudio's. From then on a sound frame's time is
 * `estimate + samples so far / rate`, where the estimate (variable 0) is the mean of PulseAudio's stamp
 * minus the sample time since then, and after AUDIO_FOLLOW_SECONDS an average with that time constant, so
 * that it follows a clock difference. The switch is seamless: the estimate starts at the last stamp's value.
 */
export function audioFilter(timelineBaseSeconds: number): string {
  const offset = 'PTS-N/SR/TB';
  const settledSamples = `${AUDIO_SETTLE_SECONDS}*SR`;
  const weight = `NB_SAMPLES/min(${AUDIO_FOLLOW_SECONDS}*SR,N-${settledSamples}+NB_SAMPLES)`;
  const follow = `st(0,ld(0)+(${offset}-ld(0))*${weight})`;
  const settling = `st(0,${offset})*0+PTS`;
  return `asetpts='if(lt(N,${settledSamples}),${settling},${follow}*0+ld(0)+N/SR/TB)-${timelineBaseSeconds}/TB'`;
}

/**
 * The capture command. Four choices keep sound and picture in step and every frame of the page in the file:
 *  - Grabs in step with the browser's frames (grabTimer), when its frame clock is known.
 *  - One timeline. x11grab and pulse both stamp with the wall clock, but by default ffmpeg starts each
 *    input at zero on its own, and one opens up to ~1.3 s after the other: the audio came out 0.7 s early.
 *    `-copyts` keeps the wall-clock stamps and setpts/asetpts subtract one shared base.
 *  - The file starts at one instant for both tracks, after both inputs are open: `-ss` on the output
 *    timeline (see startAtSeconds). Pulse is opened first, then the gate, then x11grab: ffmpeg reads
 *    none until all are open, and x11grab then catches up on the grabs it missed since it opened, in a
 *    burst. When pulse took ~2 s to open (see display.ts), x11grab opened first caught up on ~2 s of
 *    grabs at once, which filled a 64-grab queue and held 47–64 grab images (see grabQueueSize). Grabs of
 *    a burst fall in one slot and are dropped (one grab per slot), and the cut drops the first moments.
 *  - No frame-rate conversion (`-fps_mode passthrough`): each grab is one output frame at its own time,
 *    kept to the millisecond.
 *    Forcing CFR (`-r 30 -fps_mode cfr`) duplicated and dropped frames whenever a grab came a little early or late
 *    (about 10 % repeated and 5 % skipped frames on the sync page at 720p30).
 */
export function ffmpegArgs(o: CaptureOptions): string[] {
  const gop = o.fps * 2;
  const timer = grabTimer(o);
  return [
    '-hide_banner',
    // info: the input dump carries x11grab's wall-clock start time (see firstFrameAtMs).
    '-loglevel', 'info',
    '-nostats',
    '-progress', 'pipe:3',
    '-stats_period', '0.25',
    '-copyts',
    '-thread_queue_size', '1024',
    // PulseAudio's default fragment size: a small one (e.g. 20 ms) made opening the input take 2 s instead of 0.5 s.
    '-f', 'pulse', '-sample_rate', '48000', '-channels', '2', '-i', o.audioSource,
    // A short queue of grabs (grabQueueSize): each is a shared-memory image that stays allocated once made
    // (peak PSS +225 MiB at 720p with 512).
    // The gate (see grabTimer): x11grab opens once this input has read the recorder's one byte. (An input
    // named pipe:N turns off ffmpeg's reading of stdin, so a run is ended with SIGINT rather than 'q'.)
    '-f', 'u8', '-sample_rate', '1000', '-channels', '1', '-i', `pipe:${GATE_FD}`,
    '-thread_queue_size', String(grabQueueSize(o.width, o.height)),
    '-f', 'x11grab', '-draw_mouse', '0', '-framerate', timer?.framerate ?? String(o.fps), '-video_size', `${o.width}x${o.height}`, '-i', `${o.display}.0+0,0`,
    '-map', '2:v', '-map', '0:a',
    '-vf', videoFilter(o),
    '-af', audioFilter(o.timelineBaseSeconds),
    '-ss', o.startAtSeconds.toFixed(3),
    // The output's nominal rate (for the H.264 level); passthrough still keeps each kept grab at its own
    // time, with no frame duplicated or dropped.
    '-r', String(o.fps),
    '-fps_mode', 'passthrough',
    // Millisecond timestamps: in the frame-rate time base (1/30 s) a grab's time was rounded to a tick,
    // which moved pictures up to a frame against the sound and collided neighbouring frames.
    '-enc_time_base:v', '1:1000',
    '-c:v', 'libx264', '-preset', o.x264Preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-crf', '23', '-maxrate', `${o.videoMaxBitrateKbps}k`, '-bufsize', `${o.videoMaxBitrateKbps * 2}k`,
    '-g', String(gop), '-keyint_min', String(gop),
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000',
    // One fragment per keyframe (2 s): each is finished and flushed as soon as it is encoded.
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-f', 'mp4', 'pipe:1',
  ];
}

/** One ffmpeg process: from its start (or a resume) to a pause or the stop. */
export class FfmpegRun {
  private readonly child: ChildProcess;
  private readonly stderr = tail();
  private progressListeners: ((p: CaptureProgress) => void)[] = [];
  private startListeners: (() => void)[] = [];
  private stopping = false;
  /** True once ffmpeg finished the file on request (SIGINT), as opposed to dying on its own. */
  finishedCleanly = false;
  last: CaptureProgress = { frame: 0, outTimeSeconds: 0, dropFrames: 0, dupFrames: 0 };
  /**
   * Wall-clock time of the first captured frame (ms since epoch). x11grab stamps frames with the wall clock
   * and ffmpeg prints the input's first timestamp ("start: <epoch seconds>"); progress reports arrive late
   * (audio interleaving holds the pipeline back by up to a second), so they are only the fallback.
   */
  firstFrameAtMs?: number;
  readonly output: Readable;
  /** Wall-clock ms that is time 0 of ffmpeg's output timeline (progress reports count from it). */
  readonly timelineBaseMs: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** Wall-clock time at which the file starts (see CaptureOptions.startAtSeconds). */
  readonly fileStartMs: number;

  /** Wall-clock time of media time 0 in this run's output (see AAC_PRIMING_MS). */
  readonly zeroWallMs: number;
  /** The video filter given to ffmpeg (see videoFilter). */
  readonly videoFilter: string;
  /** The grab phase it was given (ms after a slot's tick), if any (else defaultGrabPhaseMs). */
  readonly grabPhaseMs?: number;
  /** Whether its grabs are in step with the browser's ticks (grabTimer): false without a frame clock. */
  readonly phaseLocked: boolean;
  /**
   * How the gate went (see grabTimer): how late its byte was written after the planned instant, and where
   * in the slot x11grab's first grab fell (ms after the tick), against the phase.
   */
  gate?: { lateMs: number; missed: number; firstGrabInSlotMs?: number };
  /**
   * Resolves with where x11grab's first grab fell in the slot (ms after its tick; gate.firstGrabInSlotMs) as
   * soon as ffmpeg prints it (~0.1 s after the gate), or undefined for a run that is not phase-locked or
   * that ended first.
   */
  readonly firstGrab: Promise<number | undefined>;
  /** Resolves once the process's stdout has ended (all of its output was read). */
  readonly outputEnded: Promise<void>;

  /** `allowanceMs`: from the spawn to the file's start (RUN_START_ALLOWANCE_MS). */
  constructor(options: CaptureSettings, log?: Logger, allowanceMs = RUN_START_ALLOWANCE_MS) {
    const now = Date.now();
    const timelineBaseSeconds = Math.floor(now / 1000);
    this.timelineBaseMs = timelineBaseSeconds * 1000;
    this.fileStartMs = now + allowanceMs;
    this.zeroWallMs = this.fileStartMs - AAC_PRIMING_MS;
    const startAtSeconds = (this.fileStartMs - this.timelineBaseMs) / 1000;
    const o = { ...options, timelineBaseSeconds, startAtSeconds };
    const timer = grabTimer(o);
    this.grabPhaseMs = options.grabPhaseMs;
    this.phaseLocked = timer !== undefined;
    this.videoFilter = videoFilter(o);
    this.child = spawn('ffmpeg', ffmpegArgs(o), {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, PULSE_SERVER: options.pulseServer },
    });
    const gate = this.child.stdio[GATE_FD] as Writable;
    gate.on('error', () => undefined);
    // Without a clock x11grab may open at any time; with one, the gate opens once pulse is open (ffmpeg
    // then waits on the gate) at the instant that puts the grabs at the phase.
    if (!timer) gate.end(Buffer.alloc(1));
    let landed!: (inSlotMs: number | undefined) => void;
    this.firstGrab = new Promise((resolve) => (landed = resolve));
    if (!timer) landed(undefined);
    let gatePlannedMs: number | undefined;
    let missed = 0;
    const openGate = (readyMs: number) => {
      gatePlannedMs = timer!.gateAt(readyMs);
      setTimeout(() => {
        // The last few ms are waited out here: a timer fires a millisecond or more late. A timer that fired
        // too late (the event loop was busy: up to 10 ms while the page loads) waits for the next slot.
        while (wallNow() < gatePlannedMs!);
        if (wallNow() - gatePlannedMs! > GATE_MAX_LATE_MS && missed < GATE_MAX_MISSES) {
          missed++;
          return openGate(gatePlannedMs! + 1);
        }
        gate.end(Buffer.alloc(1));
        this.gate = { lateMs: round3(wallNow() - gatePlannedMs!), missed };
      }, Math.max(0, gatePlannedMs - wallNow() - GATE_SPIN_MS));
    };
    // Should ffmpeg never say that pulse is open (its log changed), the gate still opens, off the phase.
    if (timer) {
      const fallback = setTimeout(() => gatePlannedMs === undefined && openGate(wallNow()), GATE_FALLBACK_MS);
      fallback.unref();
    }
    this.output = this.child.stdout!;
    this.outputEnded = new Promise((resolve) => {
      this.output.once('end', resolve);
      this.output.once('close', resolve);
      this.output.once('error', () => resolve());
    });
    this.exited = waitForExit(this.child);
    void this.exited.then(() => landed(undefined));
    let header = '';
    let grabberWaited = false;
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr.push(d);
      const text = d.toString();
      // ffmpeg says so once per process, the first time the grab queue is full: the grabber then waits, and
      // its next grabs come late (see grabQueueSize: ~0.35 s after the file starts in most runs).
      if (!grabberWaited && /\[x11grab[^\]]*\] Thread message queue blocking/.test(text)) {
        grabberWaited = true;
        log?.info('grab queue full', { msAfterFileStart: Date.now() - this.fileStartMs, queue: grabQueueSize(options.width, options.height) });
      }
      if (this.firstFrameAtMs === undefined && header.length < 64_000) {
        header += text;
        if (timer && gatePlannedMs === undefined && /Input #0, pulse/.test(header)) openGate(wallNow() + GATE_READY_MS);
        const grab = /Input #\d+, x11grab[\s\S]*?start: (\d+\.\d+)/.exec(header);
        if (grab && this.gate && timer && this.gate.firstGrabInSlotMs === undefined) {
          this.gate.firstGrabInSlotMs = round3(msIntoPeriod(timer.slot, Number(grab[1]) * 1000));
          landed(this.gate.firstGrabInSlotMs);
        }
        // Both inputs' first stamps, once the output is open too (its dump follows the inputs').
        const m = grab && header.includes('Output #0', grab.index) ? grab : null;
        const audio = /Input #\d+, pulse[\s\S]*?start: (\d+\.\d+)/.exec(header);
        if (m && audio) {
          const starts = [Number(m[1]), Number(audio[1])].map((sec) => Math.round(sec * 1000));
          this.originMs = Math.max(this.fileStartMs, Math.min(...starts));
          this.inputsOpenAfterMs = Math.max(...starts) - now;
          // The display gave its first frame and the output is open: the file starts at the later of that
          // frame and the planned common start (frames before it are cut).
          this.firstFrameAtMs = Math.max(Math.round(Number(m[1]) * 1000), this.fileStartMs);
          setTimeout(() => this.markStarted(), Math.max(0, this.firstFrameAtMs - Date.now()));
        }
      }
    });
    this.child.stdin!.on('error', () => undefined);
    let pending = '';
    let block: Record<string, string> = {};
    (this.child.stdio[3] as Readable).on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const eq = line.indexOf('=');
        if (eq < 0) continue;
        const key = line.slice(0, eq).trim();
        block[key] = line.slice(eq + 1).trim();
        if (key === 'progress') {
          this.last = {
            frame: Number(block.frame ?? 0),
            outTimeSeconds: Math.max(0, Number(block.out_time_us ?? 0) / 1e6) || 0,
            dropFrames: Number(block.drop_frames ?? 0),
            dupFrames: Number(block.dup_frames ?? 0),
          };
          block = {};
          if (this.firstFrameAtMs === undefined && this.last.frame > 0) {
            this.firstFrameAtMs = this.encodedUntilMs;
            this.markStarted();
          }
          for (const listener of this.progressListeners) listener(this.last);
        }
      }
    });
  }

  /**
   * Wall-clock time of the file's first sample. With -copyts, ffmpeg's progress counts out_time from the
   * first output timestamp: the cut (fileStartMs), or the later input if one opened after it.
   */
  private originMs?: number;
  /** How long after the spawn both inputs gave their first packet (ms): what RUN_START_ALLOWANCE_MS must cover. */
  inputsOpenAfterMs?: number;

  /** Wall-clock time up to which media has been encoded and written. */
  get encodedUntilMs(): number {
    return (this.originMs ?? this.fileStartMs) + Math.round(this.last.outTimeSeconds * 1000);
  }

  /** Seconds of media written since the first frame. */
  get encodedSeconds(): number {
    if (this.firstFrameAtMs === undefined || this.last.frame === 0) return 0;
    return Math.max(0, (this.encodedUntilMs - this.firstFrameAtMs) / 1000);
  }

  private started = false;
  private markStarted(): void {
    if (this.started) return;
    this.started = true;
    for (const listener of this.startListeners) listener();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  onProgress(listener: (p: CaptureProgress) => void): void {
    this.progressListeners.push(listener);
  }

  /** Resolves once capture has started (first frame grabbed and output open), or at the first encoded frame. */
  firstFrame(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RecorderError('encoder_failed', `No frame captured within ${timeoutMs} ms: ${this.stderr.text}`)), timeoutMs);
      const started = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.started) return started();
      this.startListeners.push(started);
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new RecorderError('encoder_failed', `ffmpeg exited (code ${code}, signal ${signal}) before the first frame: ${this.stderr.text}`));
      });
    });
  }

  /** An unexpected exit while recording, as an error; never resolves after a requested stop. */
  failure(): Promise<RecorderError> {
    return this.exited.then(
      ({ code, signal }) =>
        new Promise<RecorderError>((resolve) => {
          if (!this.stopping) resolve(new RecorderError('encoder_failed', `ffmpeg exited while recording (code ${code}, signal ${signal}): ${this.stderr.text}`));
        }),
    );
  }

  /**
   * Waits until the encoder has written media up to wall-clock `untilMs` (or `timeoutMs` passes). The
   * pipeline runs behind the wall clock, and a stop drops what is still queued, so a stop first lets it catch up.
   */
  drainUntil(untilMs: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.encodedUntilMs >= untilMs || this.child.exitCode !== null) return resolve();
      const timer = setTimeout(resolve, timeoutMs);
      this.onProgress(() => {
        if (this.encodedUntilMs >= untilMs) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.exited.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Asks ffmpeg to finish the file and waits; kills it if it does not finish in time. One SIGINT ends ffmpeg's
   * loop as 'q' would (it flushes the encoders and writes the trailer, and exits with 255), without
   * interrupting a read under way.
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (code !== 0 && code !== 255) {
      throw new RecorderError('encoder_failed', `ffmpeg did not finish cleanly (code ${code}, signal ${signal}): ${this.stderr.text}`);
    }
    this.finishedCleanly = true;
  }

  get stderrTail(): string {
    return this.stderr.text;
  }

  /** Ends the process at once (cleanup after a failure). */
  kill(): void {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * The recording's capture: encoder runs joined into one fMP4 stream (`output`). The first run starts at
 * once (while the page loads); `pause` ends the running one at an instant, `resume` starts the next, and
 * `stop` ends the file. Fragments reach `output` only once `confirmUntil` says no pause or stop falls in
 * them (see Mp4Splicer).
 */
export class FfmpegCapture {
  private settings: CaptureSettings;
  private readonly splicer: Mp4Splicer;
  private readonly runs: FfmpegRun[] = [];
  private running?: FfmpegRun;
  private raise!: (error: RecorderError) => void;
  private readonly failed: Promise<RecorderError>;
  /** True once the file was finished on request (the last run ended cleanly, or the stop came while paused). */
  finishedCleanly = false;
  /** Wall-clock time of the first captured frame of the first run (ms since epoch). */
  firstFrameAtMs?: number;
  readonly output: Readable;

  private readonly log?: Logger;

  constructor(settings: CaptureSettings, log?: Logger) {
    this.settings = settings;
    this.log = log;
    this.splicer = new Mp4Splicer({ log, onFragment: (f) => this.noteFrames(f) });
    this.output = this.splicer.output;
    this.failed = new Promise((resolve) => (this.raise = resolve));
    this.splicer.failed().then((err) => this.raise(new RecorderError('encoder_failed', err.message, { cause: err })));
    this.startRun();
  }

  private startRun(): FfmpegRun {
    const run = new FfmpegRun(this.settings, this.log);
    this.splicer.beginRun(run.zeroWallMs);
    this.attach(run);
    return run;
  }

  /** Grabs that repeated the picture before them, found in the encoded frames (see repeated-grabs.ts). */
  readonly repeatedGrabs = new RepeatedGrabs();

  private noteFrames(f: { run: number; zeroWallMs: number; fragment: Mp4Fragment; tracks: Map<number, Mp4Track> }): void {
    try {
      for (const run of f.fragment.runs) {
        const track = f.tracks.get(run.trackId);
        if (track?.handler !== 'vide') continue;
        let t = run.baseTime;
        const frames = run.samples.map((s) => {
          const frame = { bytes: s.data.length, key: (s.flags & SAMPLE_IS_NON_SYNC) === 0, wallMs: f.zeroWallMs + ((t + s.cto) / track.timescale) * 1000 };
          t += s.duration;
          return frame;
        });
        this.repeatedGrabs.add(f.run, frames);
      }
    } catch (err) {
      // Counting must never disturb the recording.
      this.log?.warn('could not count repeated frames', { error: (err as Error).message });
    }
  }

  /**
   * How much later than planned the grabs of this recording's encoders landed (ms, signed; see
   * GATE_EXPECTED_LATE_MS). Not the first run's: it opens while the browser loads the page, and landed 0–23 ms
   * late in the bench (14 runs), where the moves after it landed within ±8 ms; planned by it, the first
   * move's encoders landed up to 7.6 ms early, and were replaced one after another.
   */
  private readonly landings: number[] = [];

  private noteLanding(run: FfmpegRun): void {
    const landed = run.gate?.firstGrabInSlotMs;
    if (landed === undefined) return;
    const planned = run.grabPhaseMs ?? defaultGrabPhaseMs(this.settings.width, this.settings.height);
    this.landings.push(offPlace(landed, planned, this.settings.frameClock, this.settings.fps));
  }

  /** The lateness a grab move plans for: the median of the landings so far, or GATE_EXPECTED_LATE_MS. */
  private expectedLateMs(): number {
    if (this.landings.length === 0) return GATE_EXPECTED_LATE_MS;
    const sorted = [...this.landings].sort((a, b) => a - b);
    return Math.min(GATE_MAX_LATE_PLAN_MS, Math.max(0, sorted[Math.floor(sorted.length / 2)]!));
  }

  /** Makes `run` the running encoder, its output continuing the file. */
  private attach(run: FfmpegRun): void {
    if (this.runs.length > 0) void run.firstGrab.then(() => this.noteLanding(run));
    run.output.on('data', (chunk: Buffer) => this.splicer.write(chunk));
    run.outputEnded.then(() => this.splicer.endRun());
    run.failure().then((err) => this.raise(err));
    this.runs.push(run);
    this.running = run;
  }

  /** True between a pause and the next resume: no ffmpeg is running. */
  get paused(): boolean {
    return this.running === undefined;
  }

  /** Resolves once the first run has started capturing (see FfmpegRun.firstFrame). */
  async firstFrame(timeoutMs: number): Promise<void> {
    const run = this.runs[0]!;
    await run.firstFrame(timeoutMs);
    this.firstFrameAtMs = run.firstFrameAtMs;
  }

  /** See FfmpegRun.videoFilter (first run). */
  get videoFilter(): string | undefined {
    return this.runs[0]?.videoFilter;
  }

  /** See FfmpegRun.grabPhaseMs (the latest run). */
  get grabPhaseMs(): number | undefined {
    return this.runs.at(-1)?.grabPhaseMs;
  }

  /** See FfmpegRun.phaseLocked (the latest run). */
  get phaseLocked(): boolean {
    return this.runs.at(-1)?.phaseLocked ?? false;
  }

  /** See FfmpegRun.gate (the latest run). */
  get gate(): FfmpegRun['gate'] {
    return this.runs.at(-1)?.gate;
  }

  /** See FfmpegRun.inputsOpenAfterMs (first run). */
  get inputsOpenAfterMs(): number | undefined {
    return this.runs[0]?.inputsOpenAfterMs;
  }

  /**
   * Ends the running encoder at wall-clock `atMs`: nothing from that instant on reaches the file. Resolves
   * with the pause's position in the file (seconds) once the process has exited.
   */
  async pause(atMs: number, drainTimeoutMs: number): Promise<number> {
    await this.settleHandover();
    const run = this.running;
    if (!run) return this.splicer.durationSeconds;
    await this.endRun(run, atMs, drainTimeoutMs);
    return this.splicer.durationSeconds;
  }

  /**
   * Moves the grab to another phase of the browser's tick (see landing-probe.ts), or puts it in step with a
   * frame clock measured late (`frameClock`; the running encoder had none), without a restart: a new
   * encoder starts with the new phase while the running one goes on, and takes over at its first frame
   * (its first picture is held up to ~0.1 s there)
   * (the running one is cut there, as for a pause, and its output continues the file). A pause or stop
   * before the takeover abandons it. Resolves with whether the new encoder took over.
   *
   * A new encoder is kept when `accept` says its first grab (ms into the slot) landed well, by default within
   * LANDING_EARLY_MS before and LANDING_LATE_MS after `grabPhaseMs`; otherwise it is replaced, up to
   * REPHASE_TRIES encoders. The last of them takes over wherever it landed only if `keepLast` says so (by
   * default it does); otherwise the running encoder goes on and the move resolves false. In a 1080p bench
   * run the last of four landed 8.5 ms off, among the very pictures the move was for, and the file repeated
   * 16 % of its frames.
   */
  async rephase(
    grabPhaseMs: number,
    firstFrameTimeoutMs: number,
    drainTimeoutMs: number,
    frameClock = this.settings.frameClock,
    accept = (landedMs: number) => landedNear(landedMs, grabPhaseMs, frameClock, this.settings.fps),
    keepLast: (landedMs: number) => boolean = () => true,
  ): Promise<boolean> {
    const old = this.running;
    if (!old || this.stopped || this.handover) return false;
    // Planned early by as much as the grabs have landed late so far (see GATE_EXPECTED_LATE_MS).
    const plan = () => ({ ...this.settings, grabPhaseMs: inSlot(grabPhaseMs - this.expectedLateMs(), frameClock, this.settings.fps), frameClock });
    let settings = plan();
    let next = new FfmpegRun(settings, this.log);
    const held: Buffer[] = [];
    const hold = (chunk: Buffer) => held.push(chunk);
    next.output.on('data', hold);
    const handover = { next, committed: false, done: Promise.resolve(false) };
    this.handover = handover;
    handover.done = (async () => {
      // A new encoder whose first grab landed off the place is replaced before it takes over (the running one
      // goes on meanwhile): on a busy machine x11grab opens 1–15 ms after the gate.
      for (let attempt = 1; attempt < REPHASE_TRIES; attempt++) {
        const landed = await next.firstGrab;
        if (landed === undefined || accept(landed)) break;
        if (this.handover !== handover) break;
        this.noteLanding(next);
        settings = plan();
        const off = offPlace(landed, grabPhaseMs, frameClock, this.settings.fps);
        this.log?.info('grab landed off its place', { attempt, placeMs: grabPhaseMs, landedMs: landed, offMs: round3(off), nextPlanMs: settings.grabPhaseMs });
        next.output.off('data', hold);
        next.kill();
        held.length = 0;
        next = new FfmpegRun(settings, this.log);
        next.output.on('data', hold);
        handover.next = next;
      }
      const landed = await next.firstGrab;
      if (landed !== undefined && this.handover === handover && !accept(landed) && !keepLast(landed)) {
        this.noteLanding(next);
        this.log?.info('grab landed off its place', { attempt: REPHASE_TRIES, placeMs: grabPhaseMs, landedMs: landed, offMs: round3(offPlace(landed, grabPhaseMs, frameClock, this.settings.fps)), kept: false });
        next.kill();
        this.handover = undefined;
        return false;
      }
      try {
        await next.firstFrame(firstFrameTimeoutMs);
      } catch {
        next.kill();
      }
      if (this.handover !== handover || next.firstFrameAtMs === undefined || this.running !== old) {
        next.kill();
        this.handover = undefined;
        return false;
      }
      handover.committed = true;
      try {
        await this.endRun(old, next.fileStartMs, drainTimeoutMs);
      } finally {
        this.settings = settings;
        this.splicer.beginRun(next.zeroWallMs);
        next.output.off('data', hold);
        for (const chunk of held.splice(0)) this.splicer.write(chunk);
        this.attach(next);
        this.handover = undefined;
      }
      return true;
    })();
    return handover.done;
  }

  /** A takeover in progress (see rephase). */
  private handover?: { next: FfmpegRun; committed: boolean; done: Promise<boolean> };

  /** Before a pause or stop: a takeover not yet under way is abandoned; one under way is waited for. */
  private async settleHandover(): Promise<void> {
    const handover = this.handover;
    if (!handover) return;
    if (handover.committed) {
      await handover.done.catch(() => false);
      return;
    }
    this.handover = undefined;
    handover.next.kill();
  }

  /** Starts a new encoder that continues the file; resolves with the wall-clock time of its first frame. */
  async resume(firstFrameTimeoutMs: number): Promise<number> {
    if (this.running) throw new Error('The capture is not paused');
    const run = this.startRun();
    await run.firstFrame(firstFrameTimeoutMs);
    return run.firstFrameAtMs ?? Date.now();
  }

  /**
   * Finishes the file: the running encoder (if any) ends at `atMs` (or now) and the output stream ends.
   * Throws when ffmpeg did not finish cleanly; what it wrote up to then is still in the output.
   */
  async stop(opts: { atMs?: number; drainTimeoutMs?: number; timeoutMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.settleHandover();
    const run = this.running;
    try {
      if (run) await this.endRun(run, opts.atMs, opts.drainTimeoutMs ?? 0, opts.timeoutMs);
      this.finishedCleanly = !this.runFailed;
    } finally {
      this.splicer.finish();
    }
  }

  private stopped = false;
  /** A run did not finish cleanly when asked to (its file part ends at its last whole fragment). */
  private runFailed = false;

  private async endRun(run: FfmpegRun, atMs: number | undefined, drainTimeoutMs: number, timeoutMs?: number): Promise<void> {
    if (atMs !== undefined) {
      this.splicer.cutAt(atMs);
      await run.drainUntil(atMs, drainTimeoutMs);
    }
    try {
      await run.stop(timeoutMs);
    } catch (err) {
      this.runFailed = true;
      throw err;
    } finally {
      await run.outputEnded;
      this.splicer.endRun();
      this.running = undefined;
    }
  }

  /** No pause or stop falls before wall-clock `wallMs` (see Mp4Splicer.confirmUntil). */
  confirmUntil(wallMs: number): void {
    this.splicer.confirmUntil(wallMs);
  }

  /** Seconds of media in the file so far. */
  get encodedSeconds(): number {
    return this.splicer.durationSeconds;
  }

  /** Where wall-clock `wallMs` falls in the file (seconds). */
  filePositionAt(wallMs: number): number {
    return this.splicer.positionAt(wallMs);
  }

  /** Encoder figures summed over the runs. */
  get last(): CaptureProgress {
    return this.runs.reduce(
      (sum, run) => ({
        frame: sum.frame + run.last.frame,
        outTimeSeconds: sum.outTimeSeconds + run.last.outTimeSeconds,
        dropFrames: sum.dropFrames + run.last.dropFrames,
        dupFrames: sum.dupFrames + run.last.dupFrames,
      }),
      { frame: 0, outTimeSeconds: 0, dropFrames: 0, dupFrames: 0 },
    );
  }

  get spliceStats(): SpliceStats {
    return this.splicer.stats;
  }

  /** An encoder that exits on its own, or a stream that is not MP4, as an error; never resolves otherwise. */
  failure(): Promise<RecorderError> {
    return this.failed;
  }

  /** Kills a running encoder (cleanup when the recording ends without finishing the file). */
  close(): void {
    this.handover?.next.kill();
    this.running?.kill();
  }

  get stderrTail(): string {
    return this.runs.at(-1)?.stderrTail ?? '';
  }
}

/** ISO/IEC 14496-12 sample flags: sample_is_non_sync_sample (not a keyframe). */
const SAMPLE_IS_NON_SYNC = 0x10000;

/** The wall clock to a fraction of a millisecond (ms since the epoch). */
const wallNow = () => performance.timeOrigin + performance.now();
const round3 = (n: number) => Math.round(n * 1000) / 1000;
