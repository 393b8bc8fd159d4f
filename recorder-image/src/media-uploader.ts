/**
 * The media uploader: streams the encoder's fragmented MP4 to S3 while recording, so that
 *  - the file is complete seconds after stop whatever the recording's length (a multipart upload whose
 *    parts go up as soon as 5 MiB is encoded);
 *  - a crash loses only the last few seconds (pending segments every few seconds; see
 *    functions/core/media-upload.ts for the layout and the salvage that uses it);
 *  - an S3 outage loses nothing: every request is retried with backoff, from a bounded in-memory buffer,
 *    until S3 answers again.
 *
 * All S3 and manifest writes go through one ordered queue, so the salvage invariant (manifest parts 1..k,
 * then segments of part k+1) holds at every instant.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { deleteObjects, listPendingSegments, pendingSegmentKey, type UploadManifest } from '#core/media-upload.ts';
import type { Logger } from './log.ts';
import { Mp4BoundaryTracker } from './mp4-boxes.ts';
import { RecorderError } from './recorder-error.ts';

export interface MediaSink {
  readonly bytesWritten: number;
  /** Finishes the file after the source ended; resolves when the last byte is in S3. */
  done(): Promise<UploadedMedia>;
  /**
   * Finishes the file with what was captured, up to the last whole fragment, after the source failed.
   * Resolves undefined when nothing was captured.
   */
  finishPartial(): Promise<UploadedMedia | undefined>;
  abort(): Promise<void>;
  readonly stats: UploadStats;
  /** What the encoder has written that is not durably in S3 yet. */
  lag(): UploadLag;
}

/**
 * Media written by the encoder and not yet in S3 as a part or a pending segment: what a crash would lose
 * now. Segments go up every few seconds, so a few seconds is normal; an S3 outage makes it grow.
 */
export interface UploadLag {
  bytes: number;
  seconds: number;
}

export interface UploadedMedia {
  key: string;
  sizeBytes: number;
}

export interface UploadStats {
  parts: number;
  segments: number;
  retries: number;
  /** Longest run of failed attempts, in ms: how long S3 was unreachable. */
  longestOutageMs: number;
  /** Most bytes held in memory waiting for S3. */
  peakBufferedBytes: number;
  /** Size of the last part uploaded (at the stop, what was not in S3 yet as a part). */
  lastPartBytes: number;
  /**
   * How long the CompleteMultipartUpload took (ms). S3 joins the parts without reading them back; the local
   * emulator (s3rver) copies them into one file, so there it grows with the file's size.
   */
  completeMs?: number;
}

export interface MediaUploaderOptions {
  s3: S3Client;
  bucket: string;
  key: string;
  recordingId: string;
  manifests: { save(manifest: UploadManifest): Promise<void> };
  log: Logger;
  /** Media seconds encoded so far (for the manifest and segment keys). */
  mediaSeconds: () => number;
  /** S3's minimum part size is 5 MiB. */
  partSizeBytes?: number;
  /** How often the not-yet-uploaded tail is written as a pending segment (the crash-loss bound). */
  segmentIntervalMs?: number;
  /** Most bytes kept in memory while S3 is unreachable; beyond it the recording fails (rather than lie). */
  maxBufferedBytes?: number;
  /** How long finishing may keep retrying (SIGTERM leaves 120 s in all). */
  finishTimeoutMs?: number;
}

export const PART_SIZE_BYTES = 5 * 1024 * 1024;

type Op =
  | { kind: 'create' }
  | { kind: 'segment'; partNumber: number; seq: number; body: Buffer; end: number; mediaSeconds: number }
  | { kind: 'part'; partNumber: number; body: Buffer; end: number; mediaSeconds: number }
  | { kind: 'complete' };

export class MediaUploader implements MediaSink {
  private readonly o: Required<MediaUploaderOptions>;
  private readonly tracker = new Mp4BoundaryTracker();
  /** Bytes of the part being filled: file offsets [partStart, tracker.bytesSeen). */
  private chunks: Buffer[] = [];
  private partStart = 0;
  private partNumber = 1;
  /** File offset up to which the current part's bytes were queued as pending segments. */
  private segmentedTo = 0;
  private seq = 0;
  private readonly queue: Op[] = [];
  private queuedBytes = 0;
  private wake?: () => void;
  private uploadId?: string;
  private readonly manifest: UploadManifest;
  private readonly segmentKeys = new Map<number, string[]>();
  private readonly segmentTimer: NodeJS.Timeout;
  private readonly sourceEnded: Promise<void>;
  private readonly worker: Promise<void>;
  private readonly abortController = new AbortController();
  private deadlineMs = Number.POSITIVE_INFINITY;
  private fatal?: RecorderError;
  private completed?: UploadedMedia;
  readonly stats: UploadStats = { parts: 0, segments: 0, retries: 0, longestOutageMs: 0, peakBufferedBytes: 0, lastPartBytes: 0 };
  /** File offset and media seconds up to which the bytes are in S3 (as parts or pending segments). */
  private durable = { bytes: 0, mediaSeconds: 0 };

  constructor(options: MediaUploaderOptions, source: Readable) {
    this.o = { partSizeBytes: PART_SIZE_BYTES, segmentIntervalMs: 3000, maxBufferedBytes: 256 * 1024 * 1024, finishTimeoutMs: 100_000, ...options };
    this.manifest = { recordingId: options.recordingId, key: options.key, uploadId: '', parts: [], partsMediaSeconds: 0 };
    this.enqueue({ kind: 'create' });
    this.sourceEnded = new Promise((resolve) => {
      source.on('data', (chunk: Buffer) => this.onData(chunk));
      source.once('end', resolve);
      source.once('close', resolve);
      source.once('error', () => resolve());
    });
    this.segmentTimer = setInterval(() => this.queueSegment(), this.o.segmentIntervalMs);
    this.worker = this.run();
    this.worker.catch(() => undefined);
  }

  get bytesWritten(): number {
    return this.tracker.bytesSeen;
  }

  lag(): UploadLag {
    if (this.completed) return { bytes: 0, seconds: 0 };
    return {
      bytes: Math.max(0, this.tracker.bytesSeen - this.durable.bytes),
      seconds: Math.max(0, this.o.mediaSeconds() - this.durable.mediaSeconds),
    };
  }

  private onData(chunk: Buffer): void {
    if (this.fatal) return;
    let boundary: number;
    try {
      boundary = this.tracker.push(chunk);
    } catch (err) {
      this.fail(new RecorderError('encoder_failed', (err as Error).message));
      return;
    }
    this.chunks.push(chunk);
    if (boundary - this.partStart >= this.o.partSizeBytes) this.closePart(boundary);
    this.checkBuffer();
  }

  /** Bytes of the current part up to file offset `end` (not removed). */
  private slice(from: number, end: number): Buffer {
    return Buffer.concat(this.chunks).subarray(from - this.partStart, end - this.partStart);
  }

  private closePart(end: number): void {
    const all = Buffer.concat(this.chunks);
    const body = all.subarray(0, end - this.partStart);
    const rest = all.subarray(end - this.partStart);
    // Segments of this part still waiting are superseded by the part itself.
    this.dropQueued((op) => op.kind === 'segment' && op.partNumber === this.partNumber);
    this.enqueue({ kind: 'part', partNumber: this.partNumber, body: Buffer.from(body), end, mediaSeconds: this.o.mediaSeconds() });
    this.chunks = rest.length ? [Buffer.from(rest)] : [];
    this.partStart = end;
    this.segmentedTo = end;
    this.partNumber++;
    this.seq = 0;
  }

  private queueSegment(): void {
    const boundary = this.tracker.lastBoundary;
    const from = Math.max(this.partStart, this.segmentedTo);
    if (this.fatal || boundary <= from) return;
    this.enqueue({ kind: 'segment', partNumber: this.partNumber, seq: this.seq++, body: Buffer.from(this.slice(from, boundary)), end: boundary, mediaSeconds: this.o.mediaSeconds() });
    this.segmentedTo = boundary;
  }

  private enqueue(op: Op): void {
    this.queue.push(op);
    this.queuedBytes += 'body' in op ? op.body.length : 0;
    this.checkBuffer();
    this.wake?.();
  }

  private dropQueued(match: (op: Op) => boolean): void {
    // The op at the head may be in flight; leave it.
    for (let i = this.queue.length - 1; i >= 1; i--) {
      const op = this.queue[i]!;
      if (match(op)) {
        this.queuedBytes -= 'body' in op ? op.body.length : 0;
        this.queue.splice(i, 1);
      }
    }
  }

  private checkBuffer(): void {
    const buffered = this.queuedBytes + (this.tracker.bytesSeen - this.partStart);
    this.stats.peakBufferedBytes = Math.max(this.stats.peakBufferedBytes, buffered);
    if (buffered > this.o.maxBufferedBytes && !this.fatal) {
      // Shed insurance first: pending segments only matter for a crash, the parts carry the same bytes.
      this.dropQueued((op) => op.kind === 'segment');
      if (this.queuedBytes + (this.tracker.bytesSeen - this.partStart) > this.o.maxBufferedBytes) {
        this.fail(new RecorderError('upload_failed', `S3 has been unreachable for too long: ${this.o.maxBufferedBytes} bytes are waiting to be uploaded.`));
      }
    }
  }

  private fail(error: RecorderError): void {
    this.fatal ??= error;
    this.wake?.();
  }

  /** The ordered worker: one op at a time, each retried until it succeeds or the deadline passes. */
  private async run(): Promise<void> {
    for (;;) {
      if (this.fatal) throw this.fatal;
      const op = this.queue[0];
      if (!op) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      await this.withRetry(describe(op), () => this.perform(op));
      if (op.kind === 'segment' || op.kind === 'part') {
        this.durable = { bytes: Math.max(this.durable.bytes, op.end), mediaSeconds: Math.max(this.durable.mediaSeconds, op.mediaSeconds) };
      }
      this.queue.shift();
      this.queuedBytes -= 'body' in op ? op.body.length : 0;
      if (op.kind === 'complete') return;
    }
  }

  private async perform(op: Op): Promise<void> {
    const { s3, bucket, key } = this.o;
    const signal = { abortSignal: this.abortController.signal };
    switch (op.kind) {
      case 'create': {
        if (!this.uploadId) {
          const out = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'video/mp4' }), signal);
          this.uploadId = out.UploadId!;
          this.manifest.uploadId = this.uploadId;
        }
        await this.o.manifests.save(this.manifest);
        return;
      }
      case 'segment': {
        const segmentKey = pendingSegmentKey(key, op.partNumber, op.seq, op.mediaSeconds);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: segmentKey, Body: op.body, ContentType: 'application/octet-stream' }), signal);
        this.segmentKeys.set(op.partNumber, [...(this.segmentKeys.get(op.partNumber) ?? []), segmentKey]);
        this.stats.segments++;
        return;
      }
      case 'part': {
        if (!this.manifest.parts.some((p) => p.partNumber === op.partNumber)) {
          const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, PartNumber: op.partNumber, Body: op.body }), signal);
          this.manifest.parts.push({ partNumber: op.partNumber, etag: out.ETag!, sizeBytes: op.body.length });
          this.manifest.partsMediaSeconds = op.mediaSeconds;
          this.stats.parts++;
          this.stats.lastPartBytes = op.body.length;
        }
        await this.o.manifests.save(this.manifest);
        // The part is listed: its pending segments are no longer needed (the salvage ignores leftovers).
        const superseded = this.segmentKeys.get(op.partNumber) ?? [];
        this.segmentKeys.delete(op.partNumber);
        await deleteObjects(s3, bucket, superseded).catch((err) => this.o.log.warn('could not delete pending segments', { error: (err as Error).message }));
        return;
      }
      case 'complete': {
        const parts = this.manifest.parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
        const startedMs = Date.now();
        await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, MultipartUpload: { Parts: parts } }), signal);
        this.stats.completeMs = Date.now() - startedMs;
        this.completed = { key, sizeBytes: this.manifest.parts.reduce((n, p) => n + p.sizeBytes, 0) };
        await this.deleteLeftoverSegments();
        return;
      }
    }
  }

  private async withRetry(what: string, attempt: () => Promise<void>): Promise<void> {
    let failingSince: number | undefined;
    for (let n = 0; ; n++) {
      try {
        await attempt();
        if (failingSince !== undefined) {
          const outageMs = Date.now() - failingSince;
          this.stats.longestOutageMs = Math.max(this.stats.longestOutageMs, outageMs);
          this.o.log.info('S3 reachable again', { op: what, outageMs, attempts: n + 1 });
        }
        return;
      } catch (err) {
        if (this.abortController.signal.aborted) throw new RecorderError('upload_failed', 'The upload was aborted.');
        failingSince ??= Date.now();
        this.stats.retries++;
        const delay = Math.min(5000, 200 * 2 ** Math.min(n, 5)) * (0.5 + Math.random() / 2);
        if (Date.now() + delay > this.deadlineMs) {
          throw new RecorderError('upload_failed', `${what} failed for ${Date.now() - failingSince} ms: ${(err as Error).message}`, { cause: err });
        }
        if (n === 0 || n % 10 === 0) this.o.log.warn('S3 request failed; retrying', { op: what, attempt: n + 1, error: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.fatal) throw this.fatal;
      }
    }
  }

  private async finish(upTo: 'all' | 'boundary'): Promise<UploadedMedia | undefined> {
    await this.sourceEnded;
    clearInterval(this.segmentTimer);
    this.deadlineMs = Date.now() + this.o.finishTimeoutMs;
    const end = upTo === 'all' ? this.tracker.bytesSeen : this.tracker.lastBoundary;
    this.dropQueued((op) => op.kind === 'segment' && op.partNumber === this.partNumber);
    if (end > this.partStart) {
      this.enqueue({ kind: 'part', partNumber: this.partNumber, body: Buffer.from(this.slice(this.partStart, end)), end, mediaSeconds: this.o.mediaSeconds() });
      this.chunks = [];
      this.partStart = end;
    }
    const partsQueued = this.manifest.parts.length + this.queue.filter((op) => op.kind === 'part').length;
    if (partsQueued === 0) {
      await this.abort();
      return undefined;
    }
    this.enqueue({ kind: 'complete' });
    try {
      await this.worker;
    } catch (err) {
      throw err instanceof RecorderError ? err : new RecorderError('upload_failed', (err as Error).message, { cause: err });
    }
    return this.completed;
  }

  async done(): Promise<UploadedMedia> {
    const media = await this.finish('all');
    if (!media) throw new RecorderError('encoder_failed', 'The encoder produced no media.');
    return media;
  }

  finishPartial(): Promise<UploadedMedia | undefined> {
    return this.finish('boundary');
  }

  async abort(): Promise<void> {
    clearInterval(this.segmentTimer);
    this.abortController.abort();
    this.fail(new RecorderError('upload_failed', 'The upload was aborted.'));
    if (this.uploadId) {
      const { s3, bucket, key } = this.o;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId })).catch(() => undefined);
      await this.deleteLeftoverSegments();
    }
  }

  /** Best effort: the bucket's lifecycle rule expires whatever is left. */
  private async deleteLeftoverSegments(): Promise<void> {
    const { s3, bucket, key } = this.o;
    const leftovers = await listPendingSegments(s3, bucket, key).catch(() => []);
    await deleteObjects(s3, bucket, leftovers.map((s) => s.key)).catch(() => undefined);
  }

  /** Resolves with the upload's fatal error (buffer full, retries exhausted); never resolves otherwise. */
  failure(): Promise<RecorderError> {
    return this.worker.then(
      () => new Promise<RecorderError>(() => undefined),
      (err) => (err instanceof RecorderError ? err : new RecorderError('upload_failed', String(err))),
    );
  }
}

function describe(op: Op): string {
  switch (op.kind) {
    case 'create':
      return 'CreateMultipartUpload';
    case 'segment':
      return `PutObject pending segment ${op.partNumber}/${op.seq}`;
    case 'part':
      return `UploadPart ${op.partNumber}`;
    case 'complete':
      return 'CompleteMultipartUpload';
  }
}
