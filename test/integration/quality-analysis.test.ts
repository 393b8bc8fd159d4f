/**
 * The quality harness (quality/) against known truth: short sync media, turned into synthetic "recordings"
 * with real ffmpeg (delays, dropped and repeated frames, a late audio start), must give back exactly what was
 * done to them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseRecording } from '../../quality/analyse.ts';
import { ensureSyncMedia } from '../../quality/sync-media.ts';
import { parseRange, startSyncPageServer } from '../../quality/sync-page.ts';

const run = promisify(execFile);
const FPS = 30;
const SECONDS = 12;
/** The recorder's container: fragmented MP4, one fragment per keyframe. */
const FRAGMENTED = ['-movflags', '+frag_keyframe+empty_moov+default_base_moof'];
/** x264 as in the recorder (no B-frames), at the recorder's CRF. */
const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-crf', '23', '-pix_fmt', 'yuv420p'];

let dir: string;
let source: string;

/** Re-encodes the sync media with extra ffmpeg arguments into `name`. */
async function derive(name: string, args: string[]): Promise<string> {
  const out = join(dir, name);
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', source, ...args, out]);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quality-'));
  source = await ensureSyncMedia({ width: 640, height: 360, fps: FPS, durationSeconds: SECONDS, cacheDir: dir });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sync media', () => {
  it('is generated once and then reused from the cache', async () => {
    const again = await ensureSyncMedia({ width: 640, height: 360, fps: FPS, durationSeconds: SECONDS, cacheDir: dir });
    expect(again).toBe(source);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,sample_rate', '-of', 'csv=p=0', source]);
    expect(stdout.trim().split('\n')).toEqual(['h264,640,360', 'aac,48000']);
  });

  it('reads back as itself: every frame in order, beeps on the flashes', async () => {
    const r = await analyseRecording(source, { fps: FPS });
    expect(r.frames).toBe(FPS * SECONDS);
    expect(r.frameSamples.map((f) => f.index)).toEqual([...Array(FPS * SECONDS).keys()]);
    expect([r.repeatedFrames, r.skippedFrames, r.unreadableFrames, r.missedFlashes]).toEqual([0, 0, 0, 0]);
    // Second 0 starts the file: neither its flash nor its beep has an observed onset.
    expect(r.flashes).toEqual([...Array(SECONDS - 1).keys()].map((k) => k + 1));
    expect(r.pairs).toBe(SECONDS - 1);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThan(0.5);
  });
});

describe('analyseRecording on synthetic recordings', () => {
  it('an unchanged re-encode (x264 CRF 23 + AAC, fragmented MP4) is in sync with no repeated or skipped frames', async () => {
    const file = await derive('reencoded.mp4', [...X264, '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.width).toBe(640);
    expect(r.unreadableFrames).toBe(0);
    expect(r.repeatedFrames).toBe(0);
    expect(r.skippedFrames).toBe(0);
    expect(r.missedFlashes).toBe(0);
    expect(r.pairs).toBe(SECONDS - 1);
    expect(r.unpairedFlashes).toBe(0);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
    expect(r.avOffsetStdMs!).toBeLessThan(1);
    expect(Math.abs(r.avDriftMs!)).toBeLessThan(1);
  });

  it('finds audio delayed by 80 ms', async () => {
    const file = await derive('audio-late-80ms.mp4', [...X264, '-af', 'adelay=80:all=1', '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.pairs).toBe(SECONDS - 1);
    expect(r.avOffsetMeanMs!).toBeGreaterThanOrEqual(77);
    expect(r.avOffsetMeanMs!).toBeLessThanOrEqual(83);
    expect(r.avOffsetMedianMs!).toBeCloseTo(80, 0);
  });

  it('finds audio 700 ms late, not 300 ms early (the beep pitch names its second)', async () => {
    const file = await derive('audio-late-700ms.mp4', [...X264, '-af', 'adelay=700:all=1', '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    // With one pitch, each flash would pair with the previous second's beep, 300 ms before it.
    expect(r.pairs).toBe(SECONDS - 1);
    expect(r.avOffsetMeanMs!).toBeGreaterThanOrEqual(697);
    expect(r.avOffsetMeanMs!).toBeLessThanOrEqual(703);
    // Beep 0 (after 700 ms of silence) is heard too, though its flash starts the file.
    expect(r.beepIds.slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('finds video delayed by 100 ms (audio early) as a negative offset', async () => {
    // Video frames shifted 3 frames later, audio untouched (the encoder's 1/30 s time base would round any
    // other shift to whole frames).
    const file = await derive('video-late-100ms.mp4', [...X264, '-vf', 'setpts=PTS+0.1/TB', '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.repeatedFrames + r.skippedFrames).toBe(0);
    expect(r.pairs).toBe(SECONDS - 1);
    expect(r.avOffsetMeanMs!).toBeGreaterThanOrEqual(-103);
    expect(r.avOffsetMeanMs!).toBeLessThanOrEqual(-97);
  });

  it('counts exactly the frames dropped and repeated by a frame-rate disturbance', async () => {
    // Source frames n ≡ 9 (mod 10) are dropped; the slot freed after each n ≡ 4 (mod 10) is filled by
    // repeating that frame (setpts moves frames n ≡ 5..8 one slot later, CFR output fills the gap). Over frames
    // 0..358 (359, dropped, is not there) that is 35 skipped (9, 19, …, 349) and 36 repeated (4, 14, …, 354),
    // while flash frames (n ≡ 0 mod 30) keep their exact time.
    const n = 'round(T*30)';
    const file = await derive('drop-and-repeat.mp4', [
      ...X264,
      '-vf', `select='not(eq(mod(n,10),9))',setpts='(${n}-floor((${n}+1)/10)+floor((${n}+5)/10))/30/TB'`,
      '-fps_mode', 'cfr', '-r', String(FPS),
      '-c:a', 'aac', ...FRAGMENTED,
    ]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.firstIndex).toBe(0);
    expect(r.lastIndex).toBe(358);
    expect(r.skippedFrames).toBe(35);
    expect(r.repeatedFrames).toBe(36);
    expect(r.unreadableFrames).toBe(0);
    expect(r.repeatedPct).toBeCloseTo((100 * 36) / r.analysedFrames, 6);
    expect(r.pairs).toBe(SECONDS - 1);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
  });

  it('excludes and counts a flash whose frame was skipped', async () => {
    // Frames 90 and 91 (the flash of second 3 and the next) are dropped and the timeline kept (CFR repeats 89).
    const file = await derive('flash-dropped.mp4', [...X264, '-vf', "select='not(between(n,90,91))'", '-fps_mode', 'cfr', '-r', String(FPS), '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.skippedFrames).toBe(2);
    expect(r.repeatedFrames).toBe(2);
    expect(r.missedFlashes).toBe(1);
    expect(r.pairList.map((p) => p.second)).not.toContain(3);
    expect(r.pairs).toBe(SECONDS - 2);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
  });

  it('keeps the timeline when audio starts 0.5 s after video in the container', async () => {
    // atrim keeps the timestamps, so the audio track starts at ~0.5 s (less the AAC priming), in sync.
    // Matroska stores each stream's start as is (1 ms precision).
    const file = await derive('audio-starts-late.mkv', [...X264, '-af', 'atrim=start=0.5', '-c:a', 'aac']);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=start_time', '-of', 'csv=p=0', file]);
    expect(Number(stdout)).toBeGreaterThan(0.45);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.audioStartTime!).toBeGreaterThan(0.45);
    expect(r.videoStartTime).toBe(0);
    expect(r.pairs).toBe(SECONDS - 1);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
  });

  it('keeps the timeline across a gap after the first audio packet (ffmpeg fragmented MP4 with a late audio start)', async () => {
    // ffmpeg's fragmented MP4 puts each track's first sample at 0 and holds the delay in that sample's duration:
    // the second audio packet starts at ~0.5 s. Mapping samples by count from the start time would be 0.5 s off.
    const file = await derive('audio-gap.mp4', [...X264, '-af', 'atrim=start=0.5', '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.pairs).toBe(SECONDS - 1);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
  });

  it('ignores the lead-in (the first frame held before playback) and a frozen tail', async () => {
    // 1.5 s of frame 0 before playback, and the last frame held for 1 s: lead-in and tail, not repeats.
    const file = await derive('lead-in.mp4', [...X264, '-vf', 'tpad=start=45:start_mode=clone:stop=30:stop_mode=clone', '-af', 'adelay=1500:all=1', '-c:a', 'aac', ...FRAGMENTED]);
    const r = await analyseRecording(file, { fps: FPS });
    expect(r.leadInFrames).toBe(45);
    expect(r.tailFrames).toBe(30);
    expect(r.repeatedFrames).toBe(0);
    expect(r.skippedFrames).toBe(0);
    expect(r.pairs).toBe(SECONDS - 1);
    expect(Math.abs(r.avOffsetMeanMs!)).toBeLessThanOrEqual(3);
  });
});

describe('sync page server', () => {
  it('serves the page and the media with byte ranges', async () => {
    const server = await startSyncPageServer({ mediaPath: source });
    try {
      const page = await fetch(server.url);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('<video id="v" src="/media" autoplay playsinline');
      const whole = await fetch(new URL('/media', server.url));
      const body = Buffer.from(await whole.arrayBuffer());
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe('video/mp4');
      expect(Number(whole.headers.get('content-length'))).toBe(body.length);
      const part = await fetch(new URL('/media', server.url), { headers: { Range: 'bytes=100-199' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-199/${body.length}`);
      expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(100, 200));
      const beyond = await fetch(new URL('/media', server.url), { headers: { Range: `bytes=${body.length}-` } });
      expect(beyond.status).toBe(416);
      await beyond.arrayBuffer();
    } finally {
      await server.close();
    }
  });

  it('parses single byte ranges', () => {
    expect(parseRange(undefined, 1000)).toBeNull();
    expect(parseRange('bytes=0-', 1000)).toEqual([0, 999]);
    expect(parseRange('bytes=10-2000', 1000)).toEqual([10, 999]);
    expect(parseRange('bytes=-100', 1000)).toEqual([900, 999]);
    expect(parseRange('bytes=1000-', 1000)).toBe('invalid');
    expect(parseRange('bytes=5-4', 1000)).toBe('invalid');
    expect(parseRange('bytes=0-1,5-6', 1000)).toBeNull();
  });
});
