/**
 * The sink: streams the encoder's output to S3 as a multipart upload while recording, so the file is
 * complete in S3 seconds after stop whatever the recording's length.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, type Readable } from 'node:stream';
import { RecorderError } from './recorder-error.ts';

export interface MediaSink {
  readonly bytesWritten: number;
  /** Resolves when the last byte is in S3. */
  done(): Promise<{ key: string; sizeBytes: number }>;
  abort(): Promise<void>;
}

/** S3's minimum part size; parts are uploaded as soon as this much has been encoded. */
export const PART_SIZE_BYTES = 5 * 1024 * 1024;

export class S3MultipartSink implements MediaSink {
  private readonly upload: Upload;
  private readonly key: string;
  private bytes = 0;
  private readonly finished: Promise<unknown>;

  constructor(s3: S3Client, bucket: string, key: string, source: Readable) {
    this.key = key;
    const counter = new PassThrough();
    counter.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
    source.pipe(counter);
    this.upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: counter, ContentType: 'video/mp4' },
      partSize: PART_SIZE_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    this.finished = this.upload.done();
    // Observed by done(); keep an early failure from being reported as unhandled.
    this.finished.catch(() => undefined);
  }

  get bytesWritten(): number {
    return this.bytes;
  }

  async done(): Promise<{ key: string; sizeBytes: number }> {
    try {
      await this.finished;
    } catch (err) {
      throw new RecorderError('upload_failed', `Upload of ${this.key} failed: ${(err as Error).message}`, { cause: err });
    }
    return { key: this.key, sizeBytes: this.bytes };
  }

  async abort(): Promise<void> {
    await this.upload.abort().catch(() => undefined);
  }
}
