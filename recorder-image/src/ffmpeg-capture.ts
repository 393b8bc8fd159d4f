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
import { Mp4Splicer, type SpliceStats } from './mp4-splicer.ts';

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
   * The browser's frame clock (see FrameClock). With it, the display is grabbed in step with the browser's
   * frames (see phaseLockedGrab); without it, at the frame rate, whenever ffmpeg's own timer says.
   */
  frameClock?: FrameClock;
  /** Where in the browser's tick the kept grab falls (ms after the tick); see defaultGrabPhaseMs. */
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
 * Time from the spawn to the file's start for a first run whose frame clock (or grab phase) is passed still
 * being measured: both inputs open, the video filter read (see FILTER_DEADLINE_MS) and x11grab caught up.
 * The inputs open ~0.15 s after the spawn now that the null sink is kept on short blocks (display.ts; it was
 * ~2.0 s, which the allowance of 2.1 s had to cover), but ffmpeg reads nothing until it has its filter,
 * which needs the clock. x11grab then catches up on the grabs it missed since it opened, in a burst that
 * falls before the start. The recorder no longer starts a run this way (it measures the clock first).
 */
export const INPUT_OPEN_ALLOWANCE_MS = 1700;

/**
 * The same for a run whose frame clock is known at its spawn (a resume, a grab move, and the recorder's first
 * run, which starts once the browser's clock was measured): ffmpeg reads its
 * inputs as soon as they are open (~0.15–0.3 s after the spawn) and x11grab has little to catch up on. The
 * sooner a later run starts, the sooner a resume shows its first frame, and the shorter two encoders run
 * side by side at a grab move (it was ~2.5 s with the 2.1 s allowance).
 */
export const LATER_RUN_ALLOWANCE_MS = 800;

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
 * MiB to 925–1,055 MiB (19 runs), with no more repeated frames. It still fills once per encoder run,
 * ~0.35 s after the file starts ('grab queue full' in the log): the grabber then waits, and at 1080p most
 * runs skip 2–4 frames there (why the encoder falls behind then is not known; its main thread uses 0.1 cores
 * later on). See ffmpegArgs on the input order.
 */
export function grabQueueSize(width: number, height: number): number {
  return Math.min(64, Math.max(16, Math.floor(GRAB_QUEUE_BYTES / (width * height * 4))));
}

/**
 * Grabs per output frame (see phaseLockedGrab): the kept grab falls up to one grab interval after the slot
 * start, and that span must fit between the page's picture arrivals (landing-probe.ts). 4 at 30 fps (8.3 ms):
 * with 3 (11.1 ms) it filled the whole settled part of the tick, and one bench run in four got ~10 % repeated
 * frames. 6 at 1080p made it worse (6 % instead of 1.6–2.4 %): Xvfb copies 8 MB per grab, and the busier X
 * server put the browser's pictures on the screen at more scattered times. Each extra grab per frame costs
 * ~0.01 cores at 720p and ~0.025 at 1080p.
 */
export const GRABS_PER_FRAME = 4;

/** Time between grabs (ms): the kept grab of a slot falls up to this long after the slot's start. */
export const grabIntervalMs = (fps: number) => 1000 / (fps * GRABS_PER_FRAME);

/**
 * Where the grab slots start after a tick (ms) until the meeting page's pictures have been watched
 * (landing-probe.ts; the recorder then moves the grab where they are settled). From the first sweep on the
 * sync page (grabbing at 29.9 Hz so that the grab walks through the tick): a picture reached the screen
 * 12–17 ms after its tick at 720p and 14–20 ms at 1080p, so the slots start 2 ms (720p) or 4.5 ms (1080p)
 * after a tick; in between, by pixel count. Later launches put pictures elsewhere in the tick (2–17 ms), so
 * this is only a starting point. GRAB_PHASE_MS fixes the phase instead (RecorderConfig.grabPhaseMs).
 */
export function defaultGrabPhaseMs(width: number, height: number): number {
  const at720 = 1280 * 720;
  const at1080 = 1920 * 1080;
  const share = Math.min(1.5, Math.max(0, (width * height - at720) / (at1080 - at720)));
  return 2 + 2.5 * share;
}

/**
 * Grabbing in step with the browser. x11grab grabs on ffmpeg's own timer, whose phase against the browser's
 * ticks is set by when ffmpeg happens to start: a grab that falls where the picture of a tick is being put on
 * the screen sees the old or the new picture by a few ms of jitter, and the file gets a repeated frame next to
 * a skipped one. That was the source of the repeated frames at 720p (7 % in some runs, none in others; the
 * browser drew every frame, and the encoder gets exactly the grabs). So the display is grabbed
 * GRABS_PER_FRAME times per output frame, and only the first grab in each output slot is kept: the slots are
 * one frame long and start grabPhaseMs after a tick, so the kept grab always falls where the picture is
 * settled, whatever ffmpeg's timer does. A catch-up burst of grabs also gives one frame per slot.
 * Undefined (no clock, or a slot is not a whole number of ticks): videoFilter then uses a plain 1/fps grid.
 */
export function phaseLockedGrab(o: Pick<CaptureOptions, 'frameClock' | 'grabPhaseMs' | 'fps' | 'width' | 'height' | 'timelineBaseSeconds'>): { slotOriginSeconds: number; slotSeconds: number } | undefined {
  const slot = o.frameClock && slotClock(o.frameClock, o.fps);
  if (!slot) return undefined;
  const slotOriginMs = slot.tickWallMs + (o.grabPhaseMs ?? defaultGrabPhaseMs(o.width, o.height)) - o.timelineBaseSeconds * 1000;
  return { slotOriginSeconds: slotOriginMs / 1000, slotSeconds: slot.intervalMs / 1000 };
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

/**
 * What the capture needs; each run adds its own timeline base and start. The frame clock may still be
 * being measured when the first run starts (see FfmpegRun).
 */
export type CaptureSettings = Omit<CaptureOptions, 'timelineBaseSeconds' | 'startAtSeconds' | 'frameClock' | 'grabPhaseMs'> & {
  frameClock?: FrameClock | Promise<FrameClock | undefined>;
  /** The grab phase (see CaptureOptions.grabPhaseMs), possibly still being measured (see landing-probe.ts). */
  grabPhaseMs?: number | Promise<number | undefined>;
};

/**
 * How long before the file starts ffmpeg must have its video filter: after reading it, ffmpeg opens the
 * output, starts reading its inputs and catches up on the grabs x11grab missed while it waited (a burst of
 * up to ~1 s of grabs; at 1080p its queue fills and the grabber waits meanwhile), and all of that must be
 * over before the first frame of the file, or the file starts with a held picture. A frame clock or grab
 * phase not known by then is not waited for: the slots fall back to a plain grid, or the phase to
 * defaultGrabPhaseMs, and the recorder moves the grab as soon as it has watched the page
 * (FfmpegCapture.rephase). So the filter deadline is 1.2 s after the spawn, as before.
 */
export const FILTER_DEADLINE_MS = 500;

export interface CaptureProgress {
  frame: number;
  outTimeSeconds: number;
  dropFrames: number;
  dupFrames: number;
}

/** The least time between two kept grabs (s; see videoFilter). */
const MIN_FRAME_GAP_S = 0.01;

/** The child's file descriptor that carries the video filter (see ffmpegArgs). */
const FILTER_FD = 4;

/**
 * The video filter: the shared timeline base off the grabs' wall-clock stamps, and the first grab of each
 * slot kept. Slots are one frame long; in step with the browser's ticks (phaseLockedGrab) when its frame
 * clock is known, otherwise on a plain 1/fps grid (grabs then fall wherever ffmpeg's timer puts them).
 */
export function videoFilter(o: Pick<CaptureOptions, 'frameClock' | 'grabPhaseMs' | 'fps' | 'width' | 'height' | 'timelineBaseSeconds'>): string {
  const grab = phaseLockedGrab(o) ?? { slotOriginSeconds: 0, slotSeconds: 1 / o.fps };
  const slot = (time: string) => `floor((${time}-${grab.slotOriginSeconds.toFixed(6)})/${grab.slotSeconds.toFixed(9)})`;
  // A kept grab at least MIN_FRAME_GAP_S after the previous one: a late grab at the end of one slot and the
  // next slot's first grab can be a fraction of a ms apart (under load), which gave two pictures one
  // millisecond timestamp. The slot's next grab is kept instead.
  return `setpts=PTS-${o.timelineBaseSeconds}/TB,select='isnan(prev_selected_t)+gt(${slot('t')},${slot('prev_selected_t')})*gte(t-prev_selected_t,${MIN_FRAME_GAP_S})'`;
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
 *  - Grabs in step with the browser's frames (phaseLockedGrab), when its frame clock is known.
 *  - One timeline. x11grab and pulse both stamp with the wall clock, but by default ffmpeg starts each
 *    input at zero on its own, and one opens up to ~1.3 s after the other: the audio came out 0.7 s early.
 *    `-copyts` keeps the wall-clock stamps and setpts/asetpts subtract one shared base.
 *  - The file starts at one instant for both tracks, after both inputs are open: `-ss` on the output
 *    timeline (see startAtSeconds). Pulse is opened first, then x11grab: ffmpeg reads neither until both
 *    are open and it has its filter, and x11grab then catches up on the grabs it missed since it opened,
 *    in a burst. When pulse took ~2 s to open (see display.ts), x11grab opened first caught up on ~2 s of
 *    grabs at once, which filled a 64-grab queue and held 47–64 grab images (see grabQueueSize). Grabs of
 *    a burst fall in one slot and are dropped (one grab per slot), and the cut drops the first moments.
 *  - No frame-rate conversion (`-fps_mode passthrough`): each grab is one output frame at its own time,
 *    kept to the millisecond.
 *    Forcing CFR (`-r 30 -fps_mode cfr`) duplicated and dropped frames whenever a grab came a little early or late
 *    (about 10 % repeated and 5 % skipped frames on the sync page at 720p30).
 */
export function ffmpegArgs(o: Omit<CaptureOptions, 'frameClock' | 'grabPhaseMs'>): string[] {
  const gop = o.fps * 2;
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
    '-thread_queue_size', String(grabQueueSize(o.width, o.height)),
    '-f', 'x11grab', '-draw_mouse', '0', '-framerate', String(o.fps * GRABS_PER_FRAME), '-video_size', `${o.width}x${o.height}`, '-i', `${o.display}.0+0,0`,
    '-map', '1:v', '-map', '0:a',
    // The video filter (videoFilter) comes through a pipe that ffmpeg reads once its inputs are open, so the
    // encoder can start while the browser starts and its frame clock is measured (see FfmpegRun).
    '-filter_script:v', `pipe:${FILTER_FD}`,
    '-af', audioFilter(o.timelineBaseSeconds),
    '-ss', o.startAtSeconds.toFixed(3),
    // The output's nominal rate (for the H.264 level; grabbing at GRABS_PER_FRAME x fps would set level 6.2);
    // passthrough still keeps each kept grab at its own time, with no frame duplicated or dropped.
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
  /** True once ffmpeg finished the file on request ('q'), as opposed to dying on its own. */
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
  /** The video filter given to ffmpeg (see videoFilter), once the frame clock is known. */
  videoFilter?: string;
  /** The grab phase it was given (ms after a tick), when one was known in time (else defaultGrabPhaseMs). */
  grabPhaseMs?: number;
  /**
   * Whether its grabs are in step with the browser's ticks (phaseLockedGrab): false when the frame clock was
   * not known by the filter deadline, and the slots are a plain 1/fps grid on ffmpeg's timer.
   */
  phaseLocked = false;
  /** Resolves once the process's stdout has ended (all of its output was read). */
  readonly outputEnded: Promise<void>;

  /** `allowanceMs`: from the spawn to the file's start (INPUT_OPEN_ALLOWANCE_MS, or LATER_RUN_ALLOWANCE_MS). */
  constructor(options: CaptureSettings, log?: Logger, allowanceMs = INPUT_OPEN_ALLOWANCE_MS) {
    const now = Date.now();
    const timelineBaseSeconds = Math.floor(now / 1000);
    this.timelineBaseMs = timelineBaseSeconds * 1000;
    this.fileStartMs = now + allowanceMs;
    this.zeroWallMs = this.fileStartMs - AAC_PRIMING_MS;
    const startAtSeconds = (this.fileStartMs - this.timelineBaseMs) / 1000;
    this.child = spawn('ffmpeg', ffmpegArgs({ ...options, timelineBaseSeconds, startAtSeconds }), {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, PULSE_SERVER: options.pulseServer },
    });
    // ffmpeg opens its inputs first and then reads the video filter, which needs the browser's frame clock:
    // when the clock is passed still being measured, the run starts while it is.
    const filterPipe = this.child.stdio[FILTER_FD] as Writable;
    filterPipe.on('error', () => undefined);
    let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<undefined>((resolve) => (deadlineTimer = setTimeout(() => resolve(undefined), Math.max(0, this.fileStartMs - FILTER_DEADLINE_MS - Date.now()))));
    const timely = <T>(value: T | Promise<T | undefined> | undefined) => Promise.race([Promise.resolve(value).catch(() => undefined), deadline]);
    void Promise.all([timely(options.frameClock), timely(options.grabPhaseMs)]).then(([frameClock, grabPhaseMs]) => {
      clearTimeout(deadlineTimer);
      this.grabPhaseMs = grabPhaseMs;
      const grab = { ...options, frameClock, grabPhaseMs, timelineBaseSeconds };
      this.phaseLocked = phaseLockedGrab(grab) !== undefined;
      this.videoFilter = videoFilter(grab);
      filterPipe.end(this.videoFilter);
    });
    this.output = this.child.stdout!;
    this.outputEnded = new Promise((resolve) => {
      this.output.once('end', resolve);
      this.output.once('close', resolve);
      this.output.once('error', () => resolve());
    });
    this.exited = waitForExit(this.child);
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
        const m = /Input #\d+, x11grab[\s\S]*?start: (\d+\.\d+)[\s\S]*Output #0/.exec(header);
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
  /** How long after the spawn both inputs gave their first packet (ms): what INPUT_OPEN_ALLOWANCE_MS must cover. */
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
   * pipeline runs behind the wall clock, and 'q' drops what is still queued, so a stop first lets it catch up.
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

  /** Asks ffmpeg to finish the file ('q' on stdin) and waits; kills it if it does not finish in time. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end('q');
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
    this.splicer = new Mp4Splicer({ log });
    this.output = this.splicer.output;
    this.failed = new Promise((resolve) => (this.raise = resolve));
    this.splicer.failed().then((err) => this.raise(new RecorderError('encoder_failed', err.message, { cause: err })));
    this.startRun();
  }

  private startRun(): FfmpegRun {
    // A first run whose frame clock and grab phase are still being measured waits for them (the longer
    // allowance); with both known, it starts as soon as a later run does.
    const waits = this.settings.frameClock instanceof Promise || this.settings.grabPhaseMs instanceof Promise;
    const run = new FfmpegRun(this.settings, this.log, this.runs.length || !waits ? LATER_RUN_ALLOWANCE_MS : INPUT_OPEN_ALLOWANCE_MS);
    this.splicer.beginRun(run.zeroWallMs);
    this.attach(run);
    return run;
  }

  /** Makes `run` the running encoder, its output continuing the file. */
  private attach(run: FfmpegRun): void {
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
   * Moves the grab to another phase of the browser's tick (see landing-probe.ts) without a restart: a new
   * encoder starts with the new phase while the running one goes on, and takes over at its first frame
   * (its first picture is held up to ~0.1 s there)
   * (the running one is cut there, as for a pause, and its output continues the file). A pause or stop
   * before the takeover abandons it. Resolves with whether the new encoder took over.
   */
  async rephase(grabPhaseMs: number, firstFrameTimeoutMs: number, drainTimeoutMs: number): Promise<boolean> {
    const old = this.running;
    if (!old || this.stopped || this.handover) return false;
    const settings = { ...this.settings, grabPhaseMs };
    const next = new FfmpegRun(settings, this.log, LATER_RUN_ALLOWANCE_MS);
    const held: Buffer[] = [];
    const hold = (chunk: Buffer) => held.push(chunk);
    next.output.on('data', hold);
    const handover = { next, committed: false, done: Promise.resolve(false) };
    this.handover = handover;
    handover.done = (async () => {
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
