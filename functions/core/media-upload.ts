/**
 * How a recording's media reaches S3 so that a crash loses at most a few seconds.
 *
 * The recorder streams the fragmented MP4 into one multipart upload (parts of >= 5 MiB, S3's minimum). Bytes
 * that are not yet part of an uploaded part are also written every few seconds as small "pending segment"
 * objects. After each part lands, the upload manifest (an item next to the recording in DynamoDB) lists it
 * and the segments it covers are deleted. So at any moment:
 *
 *   file = parts listed in the manifest (1..k)  +  pending segments of part k+1 (seq 0, 1, 2, ...)
 *
 * `salvageUpload` (run by the workflow when the recorder is lost) turns exactly that into a finished MP4:
 * it uploads the pending segments as the last part and completes the upload. Segments are cut only at MP4
 * fragment boundaries, so the salvaged file ends with a whole fragment and plays.
 */
import {
  CompleteMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recordingItemKey, withoutTableKeys } from './table-schema.ts';

export interface UploadedPart {
  partNumber: number;
  etag: string;
  sizeBytes: number;
}

export interface UploadManifest {
  recordingId: string;
  key: string;
  uploadId: string;
  /** Parts 1..k, contiguous: a part is listed only after every part before it. */
  parts: UploadedPart[];
  /** Media seconds covered by the listed parts (from the encoder's progress). */
  partsMediaSeconds: number;
}

export interface PendingSegment {
  key: string;
  partNumber: number;
  seq: number;
  /** Media seconds covered once this segment is appended (0 when unknown). */
  mediaSeconds: number;
}

/** Prefix of a media file's pending segments. */
export function pendingPrefix(mediaKey: string): string {
  return `${mediaKey}.pending/`;
}

/** Segment keys sort in file order: part, then sequence; the media time rides along for the salvager. */
export function pendingSegmentKey(mediaKey: string, partNumber: number, seq: number, mediaSeconds: number): string {
  return `${pendingPrefix(mediaKey)}p${String(partNumber).padStart(6, '0')}-s${String(seq).padStart(6, '0')}-t${Math.round(mediaSeconds * 1000)}`;
}

export function parsePendingSegmentKey(key: string): PendingSegment | undefined {
  const m = /\/p(\d{6})-s(\d{6})-t(\d+)$/.exec(key);
  if (!m) return undefined;
  return { key, partNumber: Number(m[1]), seq: Number(m[2]), mediaSeconds: Number(m[3]) / 1000 };
}

/**
 * The segments that continue the manifest's parts, in order: those of part k+1 from seq 0 without a gap.
 * Anything else (segments of listed parts whose deletion did not happen, or after a gap) is not media the
 * file can use.
 */
export function continuation(manifest: Pick<UploadManifest, 'parts'>, segments: PendingSegment[]): PendingSegment[] {
  const next = manifest.parts.length + 1;
  const ofNext = segments.filter((s) => s.partNumber === next).sort((a, b) => a.seq - b.seq);
  const out: PendingSegment[] = [];
  for (const s of ofNext) {
    if (s.seq !== out.length) break;
    out.push(s);
  }
  return out;
}

/** The manifest lives beside the recording item (same partition), so writing it never races status writes. */
export class UploadManifestStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async save(manifest: UploadManifest): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { ...recordingItemKey(manifest.recordingId, 'UPLOAD'), ...manifest } }));
  }

  async find(recordingId: string): Promise<UploadManifest | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: recordingItemKey(recordingId, 'UPLOAD'), ConsistentRead: true }));
    return out.Item ? (withoutTableKeys(out.Item) as unknown as UploadManifest) : undefined;
  }

  async remove(recordingId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: recordingItemKey(recordingId, 'UPLOAD') }));
  }
}

export async function listPendingSegments(s3: S3Client, bucket: string, mediaKey: string): Promise<PendingSegment[]> {
  const out: PendingSegment[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: pendingPrefix(mediaKey), ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const parsed = object.Key ? parsePendingSegmentKey(object.Key) : undefined;
      if (parsed) out.push(parsed);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function deleteObjects(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
  }
}

export interface SalvagedFile {
  key: string;
  sizeBytes: number;
  durationSeconds: number;
  format: 'mp4';
  partial: true;
}

/**
 * Finishes the multipart upload of a recorder that died: listed parts plus the pending segments that
 * continue them. Returns undefined when nothing was captured. Safe to run twice: a completed upload is
 * found by HeadObject.
 */
export async function salvageUpload(s3: S3Client, bucket: string, manifest: UploadManifest): Promise<SalvagedFile | undefined> {
  const existing = await headSize(s3, bucket, manifest.key);
  const segments = await listPendingSegments(s3, bucket, manifest.key);
  if (existing !== undefined) {
    await deleteObjects(s3, bucket, segments.map((s) => s.key));
    return { key: manifest.key, sizeBytes: existing, durationSeconds: manifest.partsMediaSeconds, format: 'mp4', partial: true };
  }
  const tail = continuation(manifest, segments);
  const parts = manifest.parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
  let mediaSeconds = manifest.partsMediaSeconds;
  if (tail.length > 0) {
    const chunks: Buffer[] = [];
    for (const segment of tail) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: segment.key }));
      chunks.push(Buffer.from(await object.Body!.transformToByteArray()));
      mediaSeconds = Math.max(mediaSeconds, segment.mediaSeconds);
    }
    const body = Buffer.concat(chunks);
    const partNumber = manifest.parts.length + 1;
    const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: manifest.key, UploadId: manifest.uploadId, PartNumber: partNumber, Body: body }));
    parts.push({ PartNumber: partNumber, ETag: out.ETag! });
  }
  if (parts.length === 0) return undefined;
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: manifest.key, UploadId: manifest.uploadId, MultipartUpload: { Parts: parts } }));
  await deleteObjects(s3, bucket, segments.map((s) => s.key));
  const sizeBytes = (await headSize(s3, bucket, manifest.key)) ?? 0;
  return { key: manifest.key, sizeBytes, durationSeconds: Math.round(mediaSeconds * 1000) / 1000, format: 'mp4', partial: true };
}

async function headSize(s3: S3Client, bucket: string, key: string): Promise<number | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.ContentLength ?? 0;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}
