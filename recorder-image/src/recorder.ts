/**
 * One recording, start to finish: display and audio, browser, encoder, upload, control and reporting.
 * The seams (browser source, capture, sink, control channel, reporter) are built by main.ts; this file
 * only sequences them and guarantees that the workflow always hears an outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { recordingMediaKey } from '#core/recording-files.ts';
import type { Recording, RecordingFile, RecordingGap, StopReason } from '#core/recording.ts';
import type { RecordingRepository } from '#core/recording-repository.ts';
import type { RecorderResult } from '../../workflow/recording-workflow.ts';
import { ChromiumBrowserSource, type BrowserSource } from './browser-source.ts';
import type { RecorderConfig } from './config.ts';
import type { ControlChannel } from './control-channel.ts';
import { startAvEnvironment, type AvEnvironment } from './display.ts';
import { FfmpegCapture } from './ffmpeg-capture.ts';
import type { Logger } from './log.ts';
import { describeMissing, missingPrerequisites } from './preflight.ts';
import { ProcessTreeCpu } from './process-cpu.ts';
import { RecorderError } from './recorder-error.ts';
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
/** How long a stop waits for the encoder to catch up with the stop instant before finishing the file. */
const DRAIN_TIMEOUT_MS = 3000;
/** A browser that fails this many times in a row without staying up for RECOVERY_RESET_MS is given up. */
const MAX_RECOVERIES = 3;
const RECOVERY_RESET_MS = 60_000;

type StopCause = { kind: 'stop'; reason: StopReason; requestedAtMs?: number } | { kind: 'error'; error: RecorderError };

/** Runs the recording; returns the process exit code. Never throws: failures are reported to the workflow. */
export async function runRecorder(deps: RecorderDeps): Promise<number> {
  const { config, log, reporter } = deps;
  const workDir = mkdtempSync(join(config.workRoot, `recorder-${config.recordingId}-`));
  const cpu = new ProcessTreeCpu();
  const cpuTimer = setInterval(() => cpu.sample(), 2000);
  let av: AvEnvironment | undefined;
  let browser: ChromiumBrowserSource | undefined;
  let capture: FfmpegCapture | undefined;
  let sink: ReturnType<RecorderDeps['createSink']> | undefined;
  let startedAt: string | undefined;
  const gaps: RecordingGap[] = [];
  let lostWorkflow!: () => void;
  const workflowLost = new Promise<void>((resolve) => (lostWorkflow = resolve));

  try {
    const missing = missingPrerequisites();
    if (missing.length) throw new RecorderError('recorder_failed', describeMissing(missing));
    const recording: Recording | undefined = await deps.repository.find(config.recordingId);
    if (!recording) throw new RecorderError('recorder_failed', `Recording ${config.recordingId} does not exist.`);
    reporter.startHeartbeats(config.heartbeatIntervalMs, lostWorkflow);

    av = await startAvEnvironment({ width: config.width, height: config.height, workDir });
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
    // The encoder starts while the page loads: its inputs take ~1.5 s to open, and the file starts only
    // once both are open (INPUT_OPEN_ALLOWANCE_MS). A page that fails to load aborts the upload, so no file
    // of an error page is left.
    capture = new FfmpegCapture({ ...av, width: config.width, height: config.height, fps: config.fps, x264Preset: config.x264Preset, videoMaxBitrateKbps: config.videoMaxBitrateKbps });
    const key = recordingMediaKey(recording.tenantId, recording.id);
    sink = deps.createSink(key, capture);
    const loadStarted = Date.now();
    await raceTermination(browser.open(recording.meetingUrl), deps.terminated);
    log.info('meeting page loaded', { ms: Date.now() - loadStarted });
    await capture.firstFrame(FIRST_FRAME_TIMEOUT_MS);
    const firstFrameMs = capture.firstFrameAtMs ?? Date.now();
    // CPU per recorded second: CPU time over the wall time of the same window (capture started -> stop seen).
    const cpuWindowStartMs = Date.now();
    const cpuAtFirstFrame = cpu.sample();
    startedAt = new Date(firstFrameMs).toISOString();
    await reporter.recording(startedAt);
    log.info('recording', { startupMs: firstFrameMs - deps.processStartMs, key });

    const activeCapture = capture;
    const activeSink = sink;
    const stopCause: Promise<StopCause> = Promise.race([
      deps.control.stopRequested().then((req): StopCause => ({ kind: 'stop', reason: 'api', requestedAtMs: req.requestedAt ? Date.parse(req.requestedAt) : undefined })),
      deps.terminated.then((): StopCause => ({ kind: 'stop', reason: 'task_stopped' })),
      workflowLost.then((): StopCause => ({ kind: 'stop', reason: 'task_stopped' })),
      activeCapture.failure().then((error): StopCause => ({ kind: 'error', error })),
      activeSink.failure().then((error): StopCause => ({ kind: 'error', error })),
    ]);
    const cause = await superviseBrowser(browser, recording.meetingUrl, stopCause, gaps, firstFrameMs, log);

    const observedMs = Date.now();
    // The file ends where the client asked it to: at the stop request, not at the poll that saw it.
    const stopMs = cause.kind === 'stop' && cause.requestedAtMs ? Math.min(observedMs, Math.max(firstFrameMs, cause.requestedAtMs)) : observedMs;
    log.info('stop observed', {
      cause: cause.kind === 'stop' ? cause.reason : cause.error.code,
      observedAfterRequestMs: observedMs - stopMs,
      encodedSeconds: capture.encodedSeconds,
      wallSeconds: (stopMs - firstFrameMs) / 1000,
    });
    const stoppedAt = new Date(stopMs).toISOString();
    const recordedSeconds = (stopMs - firstFrameMs) / 1000;
    const cpuWhileRecording = cpu.sample() - cpuAtFirstFrame;
    const cpuWindowSeconds = (observedMs - cpuWindowStartMs) / 1000;
    if (cause.kind === 'error') throw cause.error;
    await reporter.uploading(stoppedAt, cause.reason);
    await capture.drainUntil(stopMs, DRAIN_TIMEOUT_MS);
    await capture.stop();
    const durationSeconds = round(capture.encodedSeconds);
    const uploaded = await sink.done();
    const uploadedMs = Date.now();
    const result: RecorderResult = {
      files: [{ key: uploaded.key, sizeBytes: uploaded.sizeBytes, durationSeconds, format: 'mp4' }],
      stopReason: cause.reason,
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
      },
    };
    await reporter.succeeded(result);
    return 0;
  } catch (err) {
    const error = err instanceof RecorderError ? err : new RecorderError('recorder_failed', (err as Error)?.message ?? String(err), { cause: err });
    // Keep what was captured: a failure mid-recording still leaves a file that plays, marked partial.
    const files = startedAt && capture && sink ? await keepCaptured(capture, sink, log) : (await sink?.abort(), undefined);
    await reporter
      .failed(error, { ...(files && { files }), ...(gaps.length && { gaps }), ...(startedAt && { startedAt }) })
      .catch((e) => log.error('could not report the failure', { error: (e as Error).message }));
    return 1;
  } finally {
    clearInterval(cpuTimer);
    deps.control.close();
    reporter.close();
    await browser?.close();
    await av?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Waits for the recording to end, keeping the meeting page on screen meanwhile: when the browser crashes
 * or the page hangs, the page is reloaded (the capture keeps running, so the file continues) and the gap
 * is noted. A browser that cannot be recovered ends the recording with what was captured.
 */
async function superviseBrowser(
  browser: BrowserSource,
  url: string,
  stopCause: Promise<StopCause>,
  gaps: RecordingGap[],
  firstFrameMs: number,
  log: Logger,
): Promise<StopCause> {
  const recent: number[] = [];
  for (;;) {
    const next = await Promise.race([stopCause, browser.nextProblem().then((why) => ({ kind: 'problem' as const, why }))]);
    if (next.kind !== 'problem') return next;
    const gapStartMs = Date.now();
    recent.push(gapStartMs);
    while (recent.length && recent[0]! < gapStartMs - RECOVERY_RESET_MS) recent.shift();
    log.warn('meeting page lost; reloading', { reason: next.why, attempt: recent.length });
    const noteGap = () =>
      gaps.push({
        startedAt: new Date(gapStartMs).toISOString(),
        endedAt: new Date().toISOString(),
        offsetSeconds: round((gapStartMs - firstFrameMs) / 1000),
        durationSeconds: round((Date.now() - gapStartMs) / 1000),
        reason: next.why,
      });
    if (recent.length > MAX_RECOVERIES) {
      noteGap();
      return { kind: 'error', error: new RecorderError('browser_failed', `The meeting page failed ${recent.length} times within ${RECOVERY_RESET_MS / 1000} s (last: ${next.why}).`) };
    }
    const recovered = await Promise.race([
      browser.recover(url).then(
        () => undefined,
        (err: Error): StopCause => ({ kind: 'error', error: new RecorderError('browser_failed', `The meeting page could not be reloaded after ${next.why}: ${err.message}`) }),
      ),
      stopCause,
    ]);
    noteGap();
    if (recovered) return recovered;
    log.info('meeting page back', { gapMs: Date.now() - gapStartMs });
  }
}

/** After a failure mid-recording: finishes the file with what was captured. */
async function keepCaptured(capture: FfmpegCapture, sink: MediaSink, log: Logger): Promise<RecordingFile[] | undefined> {
  try {
    await capture.stop(5000).catch(() => undefined);
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
const round = (n: number) => Math.round(n * 1000) / 1000;

/** A SIGTERM before recording begins ends the attempt instead of waiting for a slow page. */
async function raceTermination<T>(work: Promise<T>, terminated: Promise<void>): Promise<T> {
  return Promise.race([
    work,
    terminated.then((): never => {
      throw new RecorderError('recorder_failed', 'The recorder was stopped (SIGTERM) before recording began.');
    }),
  ]);
}
