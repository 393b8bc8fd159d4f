/**
 * The pieces the crash salvage rests on: where a streamed fMP4 may be cut (Mp4BoundaryTracker, checked on
 * a real ffmpeg stream fed in awkward chunk sizes), and which pending segments continue the listed parts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { continuation, parsePendingSegmentKey, pendingSegmentKey } from '../../functions/core/media-upload.ts';
import { Mp4BoundaryTracker } from '../../recorder-image/src/mp4-boxes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mr-boxes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fragmentedMp4(): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=6',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-c:a', 'aac',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

function probeDuration(bytes: Buffer, name: string): { duration: number; frames: number; errors: string } {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v', '-show_entries', 'stream=nb_read_frames:format=duration', '-of', 'json', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const info = JSON.parse(out);
  return { duration: Number(info.format.duration), frames: Number(info.streams[0].nb_read_frames), errors: '' };
}

describe('Mp4BoundaryTracker', () => {
  const stream = fragmentedMp4();

  it('finds fragment ends whatever the chunking, and a cut there plays every frame before it', () => {
    for (const chunkSize of [1, 7, 4096, 65_537]) {
      const tracker = new Mp4BoundaryTracker();
      const boundaries = new Set<number>();
      for (let i = 0; i < stream.length; i += chunkSize) boundaries.add(tracker.push(stream.subarray(i, i + chunkSize)));
      expect(tracker.bytesSeen).toBe(stream.length);
      // The last fragment ends the media; only ffmpeg's closing index (mfra) may follow it.
      expect(stream.length - tracker.lastBoundary).toBeLessThan(2048);
      expect(stream.toString('latin1', tracker.lastBoundary + 4, tracker.lastBoundary + 8)).toBe('mfra');
      // init segment + one fragment per keyframe (6 s at GOP 30) at least.
      expect(boundaries.size).toBeGreaterThanOrEqual(6);
    }
    const tracker = new Mp4BoundaryTracker();
    const cut = tracker.push(stream.subarray(0, Math.floor(stream.length * 0.6)));
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(stream.length * 0.6);
    const partial = probeDuration(stream.subarray(0, cut), 'cut.mp4');
    expect(partial.duration).toBeGreaterThan(1.5);
    // Whole fragments only (one per 30-frame GOP), every frame of them decodable.
    expect(partial.frames).toBeGreaterThanOrEqual(60);
    expect(partial.frames % 30).toBe(0);
  });

  it('rejects a stream that is not MP4 instead of cutting it anywhere', () => {
    expect(() => new Mp4BoundaryTracker().push(Buffer.from([0, 0, 0, 3, 0x6d, 0x6f, 0x6f, 0x66]))).toThrow(/Malformed MP4/);
  });
});

describe('pending segments', () => {
  const key = 'recordings/t/rec_x/recording.mp4';
  const seg = (part: number, seq: number) => parsePendingSegmentKey(pendingSegmentKey(key, part, seq, part * 10 + seq))!;

  it('round-trip their key', () => {
    expect(seg(3, 4)).toMatchObject({ partNumber: 3, seq: 4, mediaSeconds: 34 });
  });

  it('continue the listed parts: only the next part, from seq 0, up to the first gap', () => {
    const parts = [{ partNumber: 1, etag: 'a', sizeBytes: 1 }, { partNumber: 2, etag: 'b', sizeBytes: 1 }];
    const found = [seg(2, 0), seg(3, 1), seg(3, 0), seg(3, 3), seg(4, 0)];
    expect(continuation({ parts }, found).map((s) => [s.partNumber, s.seq])).toEqual([[3, 0], [3, 1]]);
    expect(continuation({ parts: [] }, [seg(1, 1)])).toEqual([]);
  });
});
