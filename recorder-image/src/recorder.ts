/**
 * One recording, start to finish: display and audio, browser, encoder, upload, control and reporting.
 * The seams (browser source, capture, sink, control channel, reporter) are built by main.ts; this file
 * only sequences them and guarantees that the workflow always hears an outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { recordingMediaKey } from '#core/recording-files.ts';
import { DEFAULT_MAX_DURATION_SECONDS, type Recording, type RecordingFile, type RecordingGap, type StopReason } from '#core/recording.ts';
import type { RecordingRepository } from '#core/recording-repository.ts';
import type { RecorderResult } from '../../workflow/recording-workflow.ts';
import { ChromiumBrowserSource, loadBrowserDriver, type BrowserSource } from './browser-source.ts';
import type { RecorderConfig } from './config.ts';
import type { ControlChannel, ControlState } from './control-channel.ts';
import { startAvEnvironment, type AvEnvironment } from './display.ts';
import { defaultGrabPhaseMs, FfmpegCapture, landedNear, msIntoPeriod, slotClock, type FrameClock } from './ffmpeg-capture.ts';
import { bestGrabPhase, fitBetter, landingFits, MIN_ARRIVALS, phaseFit, pictureArrivals, picturesSettled, pictureTiming, shouldMoveGrab } from './landing-probe.ts';
import type { Logger } from './log.ts';
import { RecorderMetrics } from './metrics.ts';
import { describeMissing, missingPrerequisites } from './preflight.ts';
import { coresByPart, ProcessTreeCpu } from './process-cpu.ts';
import { RealtimeThreads } from './realtime-threads.ts';
import { RecorderError } from './recorder-error.ts';
import { sleep } from './child-process.ts';
import type { RepeatedGrabs } from './repeated-grabs.ts';
import type { Reporter } from './reporter.ts';
import type { MediaSink } from './media-uploader.ts';

export interface RecorderDeps {
  config: RecorderConfig;
  repository: RecordingRepository;
  reporter: Reporter;
  control: ControlChannel;
  log: Logger;
  createSink(key: string, capture: FfmpegCapture): MediaSink & { failure(): Promise<RecorderError> };
  /** Resolves on SIGTERM (ECS StopTask, Spot interruption). */
  terminated: Promise<void>;
  /** When the process started (ms since epoch), for the start-to-first-frame figure. */
  processStartMs: number;
}

const FIRST_FRAME_TIMEOUT_MS = 15_000;
/** Times the frame clock is measured again when the browser gave none at the start (once a second). */
const LATE_CLOCK_TRIES = 10;
/**
 * When the meeting page's pictures are watched (landing-probe.ts): every half second from the start until
 * they move (a video often starts a moment after the page has loaded), every 5 s after the first 10 s (a
 * still page, until someone's video starts), then 10 s after the first measure, and then every minute
 * while the last watch saw the page settled (picturesSettled), or every PICTURE_RECHECK_UNSETTLED_S when
 * it did not; and sooner when the encoded frames show grabs repeating their picture (REPEAT_TRIGGER). A
 * watch costs ~0.3 s of CPU (four rows grabbed 1,000 times a second for 0.4 s).
 */
const PICTURE_WAIT_MS = 500;
const PICTURE_WAIT_LATER_MS = 5000;
const PICTURE_RECHECK_S = [10, 60];
const PICTURE_RECHECK_UNSETTLED_S = 20;
/**
 * A watch comes early when the encoder's frames show the grab repeating pictures (RepeatedGrabs): this many
 * repeats more than the page's own (below), among the frames grabbed since the last watch and within the
 * last REPEAT_WINDOW_MS, at least REPEAT_WATCH_GAP_MS after it. Frames reach the recorder up to 2 s after
 * they were grabbed (a fragment per keyframe). In the bench a grab among the pictures repeated 1–7 of
 * every 30 frames for as long as it stayed there, a well placed one a few a minute; before this, the next
 * scheduled watch (20 s away, or a minute) let such stretches run on. When an early watch finds the grab in place, the
 * repeats that brought it are taken as the page's own (a 24 fps video repeats one grab in five), and only
 * as many more bring the next one, until the grab moves.
 */
const REPEAT_TRIGGER = 3;
const REPEAT_WINDOW_MS = 8000;
const REPEAT_WATCH_GAP_MS = 5000;
/** A run of watches that see too few pictures is logged at its first and then every this many (~1 min at 5 s). */
const UNSEEN_LOG_EVERY = 12;
/** How long each watch lasts (ms): ~12 pictures of 30 fps video. */
const PICTURE_WATCH_MS = 400;
/** How long a stop or pause waits for the encoder to catch up with its instant before ending the run. */
const DRAIN_TIMEOUT_MS = 3000;
/**
 * Media is released to the upload up to this long before the start of the last control read that saw no
 * pause or stop: room for the API's write to land after it stamped its request time, and for clock skew.
 */
const CONFIRM_MARGIN_MS = 1000;
/**
 * A pause cuts this long before its request. x11grab stamps a frame with the time it was due, and under CPU
 * load the picture is read later than that: without a margin, a frame stamped just before the request could
 * show what the client paused for.
 */
export const PAUSE_MARGIN_MS = 100;
/** A browser that fails this many times in a row without staying up for RECOVERY_RESET_MS is given up. */
const MAX_RECOVERIES = 3;
const RECOVERY_RESET_MS = 60_000;

type StopCause = { kind: 'stop'; reason: StopReason; requestedAtMs?: number } | { kind: 'error'; error: RecorderError };

/** Runs the recording; returns the process exit code. Never throws: failures are reported to the workflow. */
export async function runRecorder(deps: RecorderDeps): Promise<number> {
  const { config, log, reporter } = deps;
  const workDir = mkdtempSync(join(config.workRoot, `recorder-${config.recordingId}-`));
  const cpu = new ProcessTreeCpu();
  // The tree is sampled for CPU and memory; the same look finds the threads that run in real time.
  const realtime = config.realtimeThreads ? new RealtimeThreads(log) : undefined;
  const sampleTree = () => {
    const seconds = cpu.sample();
    void realtime?.scan(cpu.processes());
    return seconds;
  };
  const cpuTimer = setInterval(sampleTree, 2000);
  let av: AvEnvironment | undefined;
  let avStarting: Promise<AvEnvironment> | undefined;
  let browser: ChromiumBrowserSource | undefined;
  let capture: FfmpegCapture | undefined;
  let sink: ReturnType<RecorderDeps['createSink']> | undefined;
  let metrics: RecorderMetrics | undefined;
  let startedAt: string | undefined;
  const gaps: RecordingGap[] = [];
  let lostWorkflow!: () => void;
  const workflowLost = new Promise<void>((resolve) => (lostWorkflow = resolve));
  const signals = new Signals();
  let control: ControlState | undefined;
  deps.control.subscribe((state) => {
    control = state;
    signals.poke();
  });

  try {
    const missing = missingPrerequisites();
    if (missing.length) throw new RecorderError('recorder_failed', describeMissing(missing));
    // Where the start-up time goes (ms after the process start; logged with 'recording').
    const sinceStart = (at = Date.now()) => Math.round(at - deps.processStartMs);
    const startup: Record<string, number> = { runStartedMs: sinceStart() };
    // The display and sound server start while the recording is read (start-up time).
    avStarting = startAvEnvironment({ width: config.width, height: config.height, workDir }).then((env) => {
      startup.displayReadyMs = sinceStart();
      return (av = env);
    });
    avStarting.catch(() => undefined);
    loadBrowserDriver().catch(() => undefined); // meanwhile (its failure is the launch's)
    const recording: Recording | undefined = await deps.repository.find(config.recordingId);
    startup.recordingReadMs = sinceStart();
    if (!recording) throw new RecorderError('recorder_failed', `Recording ${config.recordingId} does not exist.`);
    log.appendKeys({ tenantId: recording.tenantId });
    reporter.startHeartbeats(config.heartbeatIntervalMs, lostWorkflow);

    av = await avStarting;
    browser = new ChromiumBrowserSource({
      executablePath: config.chromiumPath,
      display: av.display,
      pulseServer: av.pulseServer,
      width: config.width,
      height: config.height,
      workDir,
      loadTimeoutMs: config.pageLoadTimeoutMs,
      watchdogTimeoutMs: config.pageHangTimeoutMs,
      hostResolverRules: config.hostResolverRules,
      urlPolicy: config.urlPolicy,
      log,
    });
    // The browser starts first and its frame clock is measured; the encoder starts then, with its grab in
    // step with the clock from its first frame (grabTimer), and its file starts RUN_START_ALLOWANCE_MS
    // after the spawn. Started side by side, the encoder had to wait for the clock anyway, and a browser slowed
    // by the encoder's start could miss the filter deadline, leaving the first run on a plain grid until the
    // first grab move. The meeting page loads while the encoder starts; a page that fails to load aborts the
    // upload, so no file of an error page is left.
    const loadStarted = Date.now();
    await raceTermination(browser.launch(), deps.terminated);
    startup.browserLaunchedMs = sinceStart();
    const clock = await browser.frameClock();
    startup.frameClockMs = sinceStart();
    const shown = raceTermination(browser.show(recording.meetingUrl), deps.terminated);
    shown.catch(() => undefined); // awaited below
    startup.encoderSpawnedMs = sinceStart();
    capture = new FfmpegCapture({ ...av, width: config.width, height: config.height, fps: config.fps, x264Preset: config.x264Preset, videoMaxBitrateKbps: config.videoMaxBitrateKbps, frameClock: clock, grabPhaseMs: config.grabPhaseMs }, log);
    log.info('browser started', { ms: Date.now() - loadStarted, ...(clock ? { frameIntervalMs: clock.intervalMs, tickWallMs: round(clock.tickWallMs) } : { frameClock: 'none: grabbing on the encoder timer' }) });
    const key = recordingMediaKey(recording.tenantId, recording.id);
    sink = deps.createSink(key, capture);
    metrics = startMetrics(capture, sink, log, config.metricsIntervalMs);
    await shown;
    log.info('meeting page loaded', { ms: Date.now() - loadStarted });
    await capture.firstFrame(FIRST_FRAME_TIMEOUT_MS);
    const firstFrameMs = capture.firstFrameAtMs ?? Date.now();
    // CPU per recorded second: CPU time over the wall time of the same window (capture started -> stop seen).
    const cpuWindowStartMs = Date.now();
    const cpuAtFirstFrame = sampleTree();
    const cpuPartsAtFirstFrame = cpu.secondsByPart();
    startedAt = new Date(firstFrameMs).toISOString();
    await reporter.recording(startedAt);
    log.info('recording', { startupMs: firstFrameMs - deps.processStartMs, startup, firstFrameAtMs: firstFrameMs, inputsOpenAfterMs: capture.inputsOpenAfterMs, phaseLocked: capture.phaseLocked, videoFilter: capture.videoFilter, grabPhaseMs: capture.grabPhaseMs ?? 'default', gate: capture.gate, key });

    const maxDurationSeconds = recording.maxDurationSeconds ?? DEFAULT_MAX_DURATION_SECONDS;
    // The cost cap counts wall time from the first frame, pauses included.
    const deadlineMs = firstFrameMs + maxDurationSeconds * 1000;
    const deadline = setTimeout(() => signals.stop({ kind: 'stop', reason: 'max_duration', requestedAtMs: deadlineMs }), Math.max(0, deadlineMs - Date.now()));
    deps.terminated.then(() => signals.stop({ kind: 'stop', reason: 'task_stopped' }));
    workflowLost.then(() => signals.stop({ kind: 'stop', reason: 'task_stopped' }));
    capture.failure().then((error) => signals.stop({ kind: 'error', error }));
    sink.failure().then((error) => signals.stop({ kind: 'error', error }));
    let endSupervision!: () => void;
    const supervisionEnded = new Promise<void>((resolve) => (endSupervision = resolve));
    const supervision = superviseBrowser(browser, recording.meetingUrl, supervisionEnded, gaps, capture, log).then((cause) => cause && signals.stop(cause));
    if (config.grabPhaseMs === undefined) {
      // Without a frame clock (the page skipped frames unevenly while it loaded), it is measured again on the
      // loaded page; the first grab move then puts the grabs in step with it.
      const [following, display, source] = [capture, av, browser];
      void (clock ? Promise.resolve(clock) : lateFrameClock(source, supervisionEnded, log)).then((found) => found && followPictures({ capture: following, clock: found, av: display, config, log, ended: supervisionEnded }));
    }

    const follow = await followControl({ capture, reporter, log, signals, control: () => control, firstFrameMs, deadlineMs, handledPause: recording.pauseRequestedAt });
    clearTimeout(deadline);
    endSupervision();
    await supervision;
    const { cause, stopMs, observedMs } = follow;
    log.info('stop observed', {
      cause: cause.kind === 'stop' ? cause.reason : cause.error.code,
      observedAfterRequestMs: observedMs - stopMs,
      encodedSeconds: capture.encodedSeconds,
      wallSeconds: (stopMs - firstFrameMs) / 1000,
      pauses: follow.pauses,
    });
    const stoppedAt = new Date(stopMs).toISOString();
    const recordedSeconds = (stopMs - firstFrameMs) / 1000;
    const cpuWhileRecording = cpu.sample() - cpuAtFirstFrame;
    const cpuWindowSeconds = (observedMs - cpuWindowStartMs) / 1000;
    // Where the CPU went, over the same window: the page (browser, renderer) against the capture (ffmpeg).
    log.info('cpu by process', { windowSeconds: round(cpuWindowSeconds), cores: coresByPart(cpuPartsAtFirstFrame, cpu.secondsByPart(), cpuWindowSeconds), realtimeThreads: realtime?.summary() ?? 'off' });
    if (cause.kind === 'error') throw cause.error;
    const stopReason = await reporter.uploading(stoppedAt, cause.reason);
    const reportedMs = Date.now();
    // A stop while paused finds no encoder running: the file already ends where the pause began.
    await capture.stop({ atMs: stopMs, drainTimeoutMs: DRAIN_TIMEOUT_MS });
    const encoderDoneMs = Date.now();
    const durationSeconds = round(capture.encodedSeconds);
    const uploaded = await sink.done();
    const uploadedMs = Date.now();
    // Where the time from the stop to the last byte went: the status report, the encoder's drain and finish,
    // and the upload of what was not in S3 yet (the last part, up to PART_SIZE_BYTES plus the tail).
    log.info('stop phases', {
      reportMs: reportedMs - observedMs,
      encoderMs: encoderDoneMs - reportedMs,
      uploadMs: uploadedMs - encoderDoneMs,
      lastPartBytes: sink.stats.lastPartBytes,
      completeMs: sink.stats.completeMs,
      fileBytes: uploaded.sizeBytes,
    });
    metrics.stop();
    const result: RecorderResult = {
      files: [{ key: uploaded.key, sizeBytes: uploaded.sizeBytes, durationSeconds, format: 'mp4' }],
      stopReason,
      startedAt,
      stoppedAt,
      ...(gaps.length && { gaps }),
      metrics: {
        startupMs: firstFrameMs - deps.processStartMs,
        stopToUploadedMs: uploadedMs - observedMs,
        recordedSeconds,
        cpuSecondsWhileRecording: round(cpuWhileRecording),
        cpuWindowSeconds: round(cpuWindowSeconds),
        cpuCoresPerRecordedSecond: round(cpuWhileRecording / Math.max(cpuWindowSeconds, 0.001)),
        cpuSecondsTotal: round(cpu.sample()),
        peakPssBytes: cpu.peakPssBytes,
        framesEncoded: capture.last.frame,
        framesDuplicated: capture.last.dupFrames,
        framesDropped: capture.last.dropFrames,
        uploadRetries: sink.stats.retries,
        uploadLongestOutageMs: sink.stats.longestOutageMs,
        uploadPeakBufferedBytes: sink.stats.peakBufferedBytes,
        pauses: follow.pauses,
        pausedSeconds: round(follow.pausedMs / 1000),
        ...(follow.resumeLatenciesMs.length && { resumeLatencyMsMax: Math.max(...follow.resumeLatenciesMs) }),
      },
    };
    await reporter.succeeded(result);
    return 0;
  } catch (err) {
    const error = err instanceof RecorderError ? err : new RecorderError('recorder_failed', (err as Error)?.message ?? String(err), { cause: err });
    // Keep what was captured: a failure mid-recording still leaves a file that plays, marked partial.
    const files = startedAt && capture && sink ? await keepCaptured(capture, sink, log) : (await sink?.abort(), undefined);
    metrics?.stop();
    await reporter
      .failed(error, { ...(files && { files }), ...(gaps.length && { gaps }), ...(startedAt && { startedAt }) })
      .catch((e) => log.error('could not report the failure', { error: (e as Error).message }));
    return 1;
  } finally {
    metrics?.stop();
    clearInterval(cpuTimer);
    capture?.close();
    deps.control.close();
    reporter.close();
    await browser?.close();
    await avStarting?.catch(() => undefined);
    await av?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** What the main loop waits for: a reason to stop (the first one wins), or a new control state. */
class Signals {
  cause?: StopCause;
  private pending = false;
  private wake?: () => void;

  stop(cause: StopCause): void {
    this.cause ??= cause;
    this.wake?.();
  }

  poke(): void {
    this.pending = true;
    this.wake?.();
  }

  async next(): Promise<void> {
    if (!this.cause && !this.pending) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    this.pending = false;
  }
}

interface FollowDeps {
  capture: FfmpegCapture;
  reporter: Reporter;
  log: Logger;
  signals: Signals;
  control: () => ControlState | undefined;
  firstFrameMs: number;
  deadlineMs: number;
  /** The last pause request already acted on (its pauseRequestedAt). */
  handledPause?: string;
}

interface FollowResult {
  cause: StopCause;
  /** Where the file ends (wall clock): the stop request, the max-duration deadline, or when the stop was seen. */
  stopMs: number;
  observedMs: number;
  pauses: number;
  pausedMs: number;
  resumeLatenciesMs: number[];
}

/**
 * Follows the desired state until the recording stops: pauses (the running encoder ends at the pause
 * request) and resumes (a new encoder continues the file), and tells the capture, after every control read
 * that asked for neither, that media up to that read may go to the upload.
 */
async function followControl(d: FollowDeps): Promise<FollowResult> {
  const { capture, reporter, log, signals } = d;
  let handledPause = d.handledPause;
  let runStartMs = d.firstFrameMs;
  let pausedAtMs: number | undefined;
  const out = { pauses: 0, pausedMs: 0, resumeLatenciesMs: [] as number[] };
  /** A pause asked for and not acted on yet: desiredState PAUSED, or a pause followed by a resume between two polls. */
  const pendingPause = (state: ControlState | undefined) =>
    !!state && state.desiredState !== 'STOPPED' && (state.desiredState === 'PAUSED' || (state.pauseRequestedAt !== undefined && state.pauseRequestedAt !== handledPause));
  for (;;) {
    const state = d.control();
    if (!signals.cause && state && (state.ended || state.desiredState === 'STOPPED')) {
      signals.stop({ kind: 'stop', reason: 'api', requestedAtMs: state.stopRequestedAt ? Date.parse(state.stopRequestedAt) : undefined });
    }
    if (signals.cause) break;
    if (!capture.paused && pendingPause(state)) {
      handledPause = state!.pauseRequestedAt;
      // The run ends at the pause request (less the margin), not at the poll that saw it.
      const requestedMs = state!.pauseRequestedAt ? Date.parse(state!.pauseRequestedAt) : Date.now();
      const pauseMs = Math.min(Date.now(), Math.max(runStartMs, requestedMs - PAUSE_MARGIN_MS));
      const offsetSeconds = await capture.pause(pauseMs, DRAIN_TIMEOUT_MS);
      pausedAtMs = pauseMs;
      out.pauses++;
      await reporter.paused(new Date(pauseMs).toISOString(), round(offsetSeconds));
      log.info('paused', { pausedAt: new Date(pauseMs).toISOString(), offsetSeconds: round(offsetSeconds), tookMs: Date.now() - pauseMs });
      continue;
    }
    if (capture.paused && state?.desiredState === 'RECORDING' && !pendingPause(state)) {
      const firstMs = await capture.resume(FIRST_FRAME_TIMEOUT_MS);
      out.pausedMs += firstMs - pausedAtMs!;
      runStartMs = firstMs;
      pausedAtMs = undefined;
      const latencyMs = state.resumeRequestedAt ? firstMs - Date.parse(state.resumeRequestedAt) : undefined;
      if (latencyMs !== undefined) out.resumeLatenciesMs.push(latencyMs);
      await reporter.resumed(new Date(firstMs).toISOString());
      log.info('resumed', { resumedAt: new Date(firstMs).toISOString(), latencyMs, offsetSeconds: round(capture.encodedSeconds) });
      continue;
    }
    if (!capture.paused && state) capture.confirmUntil(Math.min(state.readAtMs - CONFIRM_MARGIN_MS, d.deadlineMs));
    await signals.next();
  }
  const cause = signals.cause;
  const observedMs = Date.now();
  // The file ends where it was asked to: at the stop request or the deadline, not at the moment the recorder
  // noticed. A pause asked for before that and not acted on yet ends it earlier still.
  let stopMs = cause.kind === 'stop' && cause.requestedAtMs ? Math.min(observedMs, Math.max(d.firstFrameMs, cause.requestedAtMs)) : observedMs;
  const last = d.control();
  if (!capture.paused && last?.pauseRequestedAt && last.pauseRequestedAt !== handledPause) {
    stopMs = Math.min(stopMs, Math.max(runStartMs, Date.parse(last.pauseRequestedAt) - PAUSE_MARGIN_MS));
  }
  if (pausedAtMs !== undefined) out.pausedMs += Math.max(0, stopMs - pausedAtMs);
  return { cause, stopMs, observedMs, ...out };
}

/**
 * Keeps the meeting page on screen until `ended`: when the browser crashes or the page hangs, the page is
 * reloaded (the capture keeps running, so the file continues) and the gap is noted where it falls in the
 * file. The page stays up while paused too, so the meeting stays joined. Resolves with an error when the
 * browser cannot be recovered, or undefined once `ended` resolves.
 */
async function superviseBrowser(
  browser: BrowserSource,
  url: string,
  ended: Promise<void>,
  gaps: RecordingGap[],
  capture: FfmpegCapture,
  log: Logger,
): Promise<StopCause | undefined> {
  const recent: number[] = [];
  const stop = ended.then(() => 'ended' as const);
  for (;;) {
    const next = await Promise.race([stop, browser.nextProblem().then((why) => ({ why }))]);
    if (next === 'ended') return undefined;
    const gapStartMs = Date.now();
    recent.push(gapStartMs);
    while (recent.length && recent[0]! < gapStartMs - RECOVERY_RESET_MS) recent.shift();
    log.warn('meeting page lost; reloading', { reason: next.why, attempt: recent.length });
    const noteGap = () => {
      const gapEndMs = Date.now();
      const offsetSeconds = capture.filePositionAt(gapStartMs);
      const durationSeconds = capture.filePositionAt(gapEndMs) - offsetSeconds;
      // A gap that fell within a pause is not in the file.
      if (durationSeconds <= 0) return log.info('meeting page reloaded while paused', { reason: next.why, ms: gapEndMs - gapStartMs });
      gaps.push({
        startedAt: new Date(gapStartMs).toISOString(),
        endedAt: new Date(gapEndMs).toISOString(),
        offsetSeconds: round(offsetSeconds),
        durationSeconds: round(durationSeconds),
        reason: next.why,
      });
    };
    if (recent.length > MAX_RECOVERIES) {
      noteGap();
      return { kind: 'error', error: new RecorderError('browser_failed', `The meeting page failed ${recent.length} times within ${RECOVERY_RESET_MS / 1000} s (last: ${next.why}).`) };
    }
    const recovered = await Promise.race([
      browser.recover(url).then(
        () => undefined,
        (err: Error): StopCause => ({ kind: 'error', error: new RecorderError('browser_failed', `The meeting page could not be reloaded after ${next.why}: ${err.message}`) }),
      ),
      stop,
    ]);
    noteGap();
    if (recovered === 'ended') return undefined;
    if (recovered) return recovered;
    log.info('meeting page back', { gapMs: Date.now() - gapStartMs });
  }
}

/** Tries to measure the browser's frame clock once a second, LATE_CLOCK_TRIES times, until the recording ends. */
async function lateFrameClock(browser: ChromiumBrowserSource, ended: Promise<void>, log: Logger): Promise<FrameClock | undefined> {
  let over = false;
  void ended.then(() => (over = true));
  for (let i = 0; i < LATE_CLOCK_TRIES && !over; i++) {
    await Promise.race([sleep(1000), ended]);
    if (over) break;
    const clock = await browser.frameClock().catch(() => undefined);
    if (clock) {
      log.info('frame clock measured', { tries: i + 1, frameIntervalMs: clock.intervalMs, tickWallMs: round(clock.tickWallMs) });
      return clock;
    }
  }
  return undefined;
}

/** After a failure mid-recording: finishes the file with what was captured. */
async function keepCaptured(capture: FfmpegCapture, sink: MediaSink, log: Logger): Promise<RecordingFile[] | undefined> {
  try {
    await capture.stop({ timeoutMs: 5000 }).catch(() => undefined);
    // A file ffmpeg finished is whole; after an encoder crash only whole fragments are kept.
    const media = capture.finishedCleanly ? await sink.done() : await sink.finishPartial();
    if (!media) return undefined;
    return [{ key: media.key, sizeBytes: media.sizeBytes, durationSeconds: round(capture.encodedSeconds), format: 'mp4', partial: true }];
  } catch (err) {
    log.error('could not keep what was captured', { error: (err as Error).message });
    await sink.abort();
    return undefined;
  }
}
/**
 * Keeps the grab where the meeting page's pictures are settled. Where in the browser's tick pictures reach
 * the screen differs between launches and pages (landing-probe.ts), and is only seen once the page moves, so
 * it is watched on the page being recorded a moment after the start and now and then after that; a grab
 * span that pictures arrive in is moved to the best phase, by handing over to a new encoder
 * (FfmpegCapture.rephase: no restart; the picture holds up to ~0.1 s at the takeover).
 */
async function followPictures(o: { capture: FfmpegCapture; clock: FrameClock; av: AvEnvironment; config: RecorderConfig; log: Logger; ended: Promise<void> }): Promise<void> {
  const { capture, clock, config, log } = o;
  let ended = false;
  void o.ended.then(() => (ended = true));
  // Arrivals are placed within the slot, not the tick: the grab falls in one tick of each slot, and a
  // 30 fps video's pictures arrive after every other tick (see bestGrabPhase).
  const period = slotClock(clock, config.fps) ?? clock;
  const startedMs = Date.now();
  let measured = 0;
  let settled = true;
  // Watches in a row that saw too few pictures to place them (see 'pictures not seen').
  let unseen = 0;
  // The wait before the next watch: see PICTURE_WAIT_MS.
  const nextWaitMs = () => {
    if (measured === 0) return Date.now() - startedMs < 10_000 ? PICTURE_WAIT_MS : PICTURE_WAIT_LATER_MS;
    if (measured >= PICTURE_RECHECK_S.length && !settled) return 1000 * PICTURE_RECHECK_UNSETTLED_S;
    return 1000 * (PICTURE_RECHECK_S[measured - 1] ?? PICTURE_RECHECK_S.at(-1)!);
  };
  let lastWatchMs = Date.now();
  // When the grab last moved (or the encoder started): see REPEAT_MOVE_GAP_MS.
  let lastMoveMs = Date.now();
  // Repeats per window that are the page's own (see REPEAT_TRIGGER).
  let ownRepeats = 0;
  const repeats = () => capture.repeatedGrabs.since(Math.max(lastWatchMs, Date.now() - REPEAT_WINDOW_MS));
  for (let waitMs = 0; !ended; waitMs = nextWaitMs()) {
    const after = await waitForWatch(waitMs, () => repeats() >= REPEAT_TRIGGER + ownRepeats);
    const repeatsSeen = repeats();
    if (ended || capture.paused) continue;
    let failure: string | undefined;
    const arrivals = await pictureArrivals({ display: o.av.display, width: config.width, height: config.height, durationMs: PICTURE_WATCH_MS, timeoutMs: PICTURE_WATCH_MS + 2000 }).catch((err: Error) => {
      failure = err.message;
      return [];
    });
    if (ended) continue;
    lastWatchMs = Date.now();
    if (arrivals.length < MIN_ARRIVALS) {
      // A still page shows nothing to watch; so does a watch that failed or stalled. Logged now and then
      // (the first time, then every UNSEEN_LOG_EVERY-th) so that a run whose grab never moved says why.
      if (unseen++ % UNSEEN_LOG_EVERY === 0) log.info('pictures not seen', { watches: unseen, arrivals: arrivals.length, ...(failure && { error: failure }) });
      continue;
    }
    unseen = 0;
    measured++;
    const planned = capture.grabPhaseMs ?? defaultGrabPhaseMs(config.width, config.height);
    // Where the running encoder's grabs are: its first grab showed it (they land later than planned on a busy
    // machine; see GATE_LEAD_MS).
    const grabbed = capture.gate?.firstGrabInSlotMs;
    const phase = grabbed ?? planned;
    const locked = capture.phaseLocked;
    const now = phaseFit(period, clock.intervalMs, arrivals, phase);
    const best = bestGrabPhase(period, clock.intervalMs, arrivals)!;
    // Where in the slot each picture arrived (ms after its start), sorted.
    const inSlotMs = arrivals.map((t) => Math.round(msIntoPeriod(period, t) * 10) / 10).sort((a, b) => a - b);
    const timing = pictureTiming(arrivals, config.fps);
    const move = shouldMoveGrab({ phaseLocked: locked, watch: measured, arrivals: arrivals.length, now, best: best.fit, phaseMs: phase, bestPhaseMs: best.phase, repeating: after === 'repeats', sinceMoveMs: Date.now() - lastMoveMs });
    // A page is settled when its pictures come steadily and well inside the grab's safe window.
    settled = picturesSettled(timing, (move ? best.fit : now).clearance);
    log.info('pictures reach the screen', { after, repeats: repeatsSeen, arrivals: arrivals.length, phaseLocked: locked, grabPhaseMs: round(planned), grabbedPhaseMs: grabbed, now, bestPhaseMs: best.phase, best: best.fit, periodMs: period.intervalMs, inSlotMs, timing, settled });
    if (!move) {
      if (after === 'repeats') ownRepeats = repeatsSeen;
      continue;
    }
    const fits = (landedMs: number) => landingFits(period, clock.intervalMs, arrivals, best.fit, landedMs, landedNear(landedMs, best.phase, clock, config.fps));
    // The last new encoder, if it landed off the place too, takes over only where it grabs no worse than the
    // running one (a run on a plain grid always gives way to one in step with the clock).
    const noWorse = (landedMs: number) => !locked || !fitBetter(now, phaseFit(period, clock.intervalMs, arrivals, landedMs));
    const moved = await capture.rephase(best.phase, FIRST_FRAME_TIMEOUT_MS, DRAIN_TIMEOUT_MS, clock, fits, noWorse).catch(() => false);
    lastWatchMs = Date.now();
    lastMoveMs = lastWatchMs;
    ownRepeats = 0;
    // A move that failed left the grab where pictures arrive: watch again soon.
    if (!moved) settled = false;
    log.info('grab phase moved', { fromMs: round(phase), toMs: best.phase, moved, gate: capture.gate });
  }

  /** Waits `waitMs`, or less once `repeating()` holds (from REPEAT_WATCH_GAP_MS on), or until the end; says which. */
  async function waitForWatch(waitMs: number, repeating: () => boolean): Promise<'schedule' | 'repeats' | 'end'> {
    let done = false;
    let early: ReturnType<RepeatedGrabs['when']> | undefined;
    const byRepeats = sleep(REPEAT_WATCH_GAP_MS).then(async () => {
      if (done) return new Promise<never>(() => {});
      early = capture.repeatedGrabs.when(repeating);
      await early.reached;
      return 'repeats' as const;
    });
    try {
      return await Promise.race([sleep(waitMs).then(() => 'schedule' as const), o.ended.then(() => 'end' as const), byRepeats]);
    } finally {
      done = true;
      early?.cancel();
    }
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;


/** Frames from the encoder and lag from the upload, written every `intervalMs` and when the recording ends. */
function startMetrics(capture: FfmpegCapture, sink: MediaSink, log: Logger, intervalMs: number): RecorderMetrics {
  return new RecorderMetrics({
    sources: { frames: () => capture.last, repeatedFrames: () => capture.repeatedGrabs.total, uploadLag: () => sink.lag(), uploadRetries: () => sink.stats.retries },
    log,
    intervalMs,
  }).start();
}

/** A SIGTERM before recording begins ends the attempt instead of waiting for a slow page. */
async function raceTermination<T>(work: Promise<T>, terminated: Promise<void>): Promise<T> {
  return Promise.race([
    work,
    terminated.then((): never => {
      throw new RecorderError('recorder_failed', 'The recorder was stopped (SIGTERM) before recording began.');
    }),
  ]);
}
