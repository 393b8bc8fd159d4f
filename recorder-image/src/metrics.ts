/**
 * The recorder's own metrics, as CloudWatch embedded metric format (EMF) documents in its log: CloudWatch
 * Logs extracts metrics from any EMF log event it receives, including those the ECS awslogs driver sends,
 * so the recorder needs no CloudWatch client, no PutMetricData permission and no network call of its own:
 * a metric is one more log line (whether a CloudWatch Logs outage can hold up stdout is the awslogs driver's
 * `mode`, set with the task definition). Local mode writes the same lines to its log file, where nothing
 * extracts them.
 *
 * One document every `intervalMs` (60 s: CloudWatch's standard resolution) and a last one when the
 * recording ends:
 *  - FramesCaptured, FramesDropped, FramesDuplicated (Count): ffmpeg's frame=, drop_frames= and
 *    dup_frames= over the interval, summed over encoder runs (pauses and resumes);
 *  - FramesRepeated (Count): grabs that repeated the picture before them while the page was moving, found
 *    in the encoded frames (repeated-grabs.ts);
 *  - UploadLagSeconds, UploadLagBytes: the most, over the interval, of media written by the encoder but not
 *    durably in S3 yet (as a part or a pending segment): what a crash at that moment would lose;
 *  - UploadRetries (Count): failed S3 requests retried over the interval.
 * One dimension, `service` = `recorder` (as Powertools Metrics in the functions): a recordingId dimension
 * would make a custom metric per recording. The recording id is a plain property, for Logs Insights.
 */
import type { CaptureProgress } from './ffmpeg-capture.ts';
import type { Logger } from './log.ts';
import type { UploadLag } from './media-uploader.ts';

export const METRICS_NAMESPACE = 'MeetingRecorder';
export const METRICS_SERVICE = 'recorder';
/** How often the lag is sampled (each document reports the interval's maximum); a sample costs a few reads. */
const LAG_SAMPLE_MS = 1000;

/** The CloudWatch units the recorder uses (a subset of MetricDatum's). */
export type MetricUnit = 'Count' | 'Seconds' | 'Bytes';

export interface MetricValue {
  name: string;
  unit: MetricUnit;
  value: number;
}

/**
 * One EMF document: `_aws` metadata naming each metric, the dimension values and the metric values as
 * top-level members (as the specification requires), and `properties` alongside (never dimensions).
 */
export function emfDocument(input: {
  namespace: string;
  dimensions: Record<string, string>;
  metrics: MetricValue[];
  properties?: Record<string, unknown>;
  timestampMs: number;
}): Record<string, unknown> {
  const { namespace, dimensions, metrics, properties = {}, timestampMs } = input;
  if (metrics.length === 0 || metrics.length > 100) throw new Error(`An EMF document holds 1 to 100 metrics, not ${metrics.length}`);
  const doc: Record<string, unknown> = { ...properties, ...dimensions };
  for (const m of metrics) {
    if (!Number.isFinite(m.value)) throw new Error(`Metric ${m.name} is not a finite number: ${m.value}`);
    if (m.name in doc) throw new Error(`Metric ${m.name} collides with a dimension or property of the same name`);
    doc[m.name] = m.value;
  }
  return {
    _aws: {
      Timestamp: Math.round(timestampMs),
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [Object.keys(dimensions)], Metrics: metrics.map(({ name, unit }) => ({ Name: name, Unit: unit })) }],
    },
    ...doc,
  };
}

export interface MetricSources {
  /** Encoder counters, cumulative over the recording (see FfmpegCapture.last). */
  frames(): CaptureProgress;
  /** Repeated grabs so far (see RepeatedGrabs). */
  repeatedFrames(): number;
  /** The upload's lag now. */
  uploadLag(): UploadLag;
  /** Failed S3 requests so far. */
  uploadRetries(): number;
}

export interface RecorderMetricsOptions {
  sources: MetricSources;
  log: Logger;
  /** @default 60000 */
  intervalMs?: number;
  now?: () => number;
}

/** Samples the sources and writes one EMF document per interval, and a last one at `stop`. */
export class RecorderMetrics {
  private readonly o: Required<RecorderMetricsOptions>;
  private last = { frames: 0, dropped: 0, duplicated: 0, repeated: 0, retries: 0 };
  private lagMax = { seconds: 0, bytes: 0 };
  private intervalStartMs: number;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(options: RecorderMetricsOptions) {
    this.o = { intervalMs: 60_000, now: Date.now, ...options };
    this.intervalStartMs = this.o.now();
  }

  /** Starts the periodic documents; the timers never keep the process alive. */
  start(): this {
    this.timers = [setInterval(() => this.sample(), Math.min(LAG_SAMPLE_MS, this.o.intervalMs)), setInterval(() => this.flush(false), this.o.intervalMs)];
    for (const timer of this.timers) timer.unref();
    return this;
  }

  /** Notes the upload lag now (the document reports the interval's maximum). */
  sample(): void {
    try {
      const lag = this.o.sources.uploadLag();
      this.lagMax = { seconds: Math.max(this.lagMax.seconds, lag.seconds), bytes: Math.max(this.lagMax.bytes, lag.bytes) };
    } catch {
      // A metric source must never disturb the recording.
    }
  }

  /** Writes the document for the interval since the last one. */
  flush(final: boolean): void {
    try {
      this.sample();
      const nowMs = this.o.now();
      const frames = this.o.sources.frames();
      const retries = this.o.sources.uploadRetries();
      const current = { frames: frames.frame, dropped: frames.dropFrames, duplicated: frames.dupFrames, repeated: this.o.sources.repeatedFrames(), retries };
      const delta = (key: keyof typeof current) => Math.max(0, current[key] - this.last[key]);
      const doc = emfDocument({
        namespace: METRICS_NAMESPACE,
        dimensions: { service: METRICS_SERVICE },
        metrics: [
          { name: 'FramesCaptured', unit: 'Count', value: delta('frames') },
          { name: 'FramesDropped', unit: 'Count', value: delta('dropped') },
          { name: 'FramesDuplicated', unit: 'Count', value: delta('duplicated') },
          { name: 'FramesRepeated', unit: 'Count', value: delta('repeated') },
          { name: 'UploadLagSeconds', unit: 'Seconds', value: round(this.lagMax.seconds) },
          { name: 'UploadLagBytes', unit: 'Bytes', value: this.lagMax.bytes },
          { name: 'UploadRetries', unit: 'Count', value: delta('retries') },
        ],
        properties: { intervalSeconds: round((nowMs - this.intervalStartMs) / 1000), final },
        timestampMs: nowMs,
      });
      this.last = current;
      this.lagMax = { seconds: 0, bytes: 0 };
      this.intervalStartMs = nowMs;
      this.o.log.record('recorder metrics', doc);
    } catch (err) {
      this.o.log.warn('could not write metrics', { error: (err as Error).message });
    }
  }

  /** Writes the last document (once) and stops the timers. */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.stopped) return;
    this.stopped = true;
    this.flush(true);
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
