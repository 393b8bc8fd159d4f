/**
 * The splicer that joins encoder runs (one per span between pauses) into one fMP4, checked on real ffmpeg
 * output: the joined file decodes without an error, both tracks' timestamps rise with no hole at the
 * splice, a cut leaves out everything from its instant on, and fragments wait for a confirmation.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Mp4BoxReader, parseFragment, parseMovie } from '../../recorder-image/src/mp4-boxes.ts';
import { Mp4Splicer } from '../../recorder-image/src/mp4-splicer.ts';

const dir = mkdtempSync(join(tmpdir(), 'mr-splice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fragmented MP4 as the recorder's encoder writes it (H.264 without B-frames, AAC 48 kHz, 1 s GOP). */
function encode(video: string, hz: number, seconds: number): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `${video}:size=320x180:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30',
    '-c:a', 'aac', '-ar', '48000',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

function feed(splicer: Mp4Splicer, bytes: Buffer, chunkSize: number) {
  for (let i = 0; i < bytes.length; i += chunkSize) splicer.write(bytes.subarray(i, i + chunkSize));
}

function collect(splicer: Mp4Splicer): () => Buffer {
  const chunks: Buffer[] = [];
  splicer.output.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks);
}

function save(bytes: Buffer, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function decodeErrors(path: string): string {
  try {
    execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return '';
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  }
}

/** Each stream's packets (decode times, durations), from ffprobe. */
function packets(path: string): Record<'video' | 'audio', { dts: number }[]> {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time', '-of', 'json', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const all = JSON.parse(out).packets as { codec_type: string; dts_time: string }[];
  const of = (type: string) => all.filter((p) => p.codec_type === type).map((p) => ({ dts: Number(p.dts_time) }));
  return { video: of('video'), audio: of('audio') };
}

function duration(path: string): number {
  return Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path], { encoding: 'utf8' }));
}

/** Mean colour of each decoded frame (scaled to 8x8), in order. */
function frameColours(path: string): { r: number; g: number; b: number }[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:v', '-vf', 'scale=8:8', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const out = [];
  for (let i = 0; i + 192 <= raw.length; i += 192) {
    let r = 0, g = 0, b = 0;
    for (let k = i; k < i + 192; k += 3) {
      r += raw[k]!;
      g += raw[k + 1]!;
      b += raw[k + 2]!;
    }
    out.push({ r: r / 64, g: g / 64, b: b / 64 });
  }
  return out;
}

/**
 * Each track's decode times rise, by at most `maxStep` seconds from one packet to the next (ffprobe's
 * packet durations are nominal, so the steps are what shows a hole).
 */
function expectContinuous(list: { dts: number }[], maxStep: number) {
  for (let i = 1; i < list.length; i++) {
    expect(list[i]!.dts).toBeGreaterThan(list[i - 1]!.dts);
    expect(list[i]!.dts - list[i - 1]!.dts).toBeLessThan(maxStep);
  }
}

describe('Mp4Splicer', () => {
  // Run A: red picture, 440 Hz; run B: blue picture, 880 Hz.
  const runA = encode('color=c=red', 440, 4);
  const runB = encode('color=c=blue', 880, 3);

  it('joins two runs cut at given instants into one file that decodes, with continuous timestamps in both tracks', () => {
    const splicer = new Mp4Splicer();
    const joined = collect(splicer);
    splicer.beginRun(100_000);
    feed(splicer, runA, 7_777);
    splicer.cutAt(100_000 + 2500);
    splicer.endRun();
    expect(splicer.durationSeconds).toBeGreaterThan(2.45);
    expect(splicer.durationSeconds).toBeLessThan(2.55);
    const pausedAt = splicer.durationSeconds;
    // The second run starts 10 s later on the wall clock; the file continues where the first ended.
    splicer.beginRun(112_500);
    feed(splicer, runB, 65_536);
    splicer.finish();
    const bytes = joined();
    const path = save(bytes, 'joined.mp4');

    expect(decodeErrors(path)).toBe('');
    expect(duration(path)).toBeGreaterThan(2.5 + 3 - 0.1);
    expect(duration(path)).toBeLessThan(2.5 + 3 + 0.1);
    const { video, audio } = packets(path);
    // No hole: pictures at most ~2 frame times apart (the first after the splice also covers the last
    // sound frame's overhang), sound frames back to back (1024 samples) but for at most one at the cut.
    expect(video).toHaveLength(75 + 90);
    expectContinuous(video, 0.08);
    expectContinuous(audio, (2 * 1024) / 48000 + 0.001);
    // The file is red up to the cut and blue after it, with no red after the splice.
    const colours = frameColours(path);
    const red = colours.filter((c) => c.r > 200 && c.b < 60).length;
    const blue = colours.filter((c) => c.b > 200 && c.r < 60).length;
    expect(red).toBe(75);
    expect(blue).toBe(90);
    expect(colours.findIndex((c) => c.b > 200)).toBe(red);
    // Positions: the first run's wall time maps onto the file, the pause onto where it sits.
    expect(splicer.positionAt(100_000 + 1000)).toBeCloseTo(1, 3);
    expect(splicer.positionAt(100_000 + 6000)).toBeCloseTo(pausedAt, 3);
    expect(splicer.positionAt(112_500 + 1000)).toBeCloseTo(pausedAt + 1, 3);

    // One init segment, no mfra, fragment sequence numbers 1, 2, 3, ...
    const reader = new Mp4BoxReader();
    const boxes = reader.push(bytes);
    expect(boxes.map((b) => b.type).filter((t) => t === 'ftyp' || t === 'moov' || t === 'mfra')).toEqual(['ftyp', 'moov']);
    const tracks = parseMovie(boxes.find((b) => b.type === 'moov')!.bytes);
    const sequences = [];
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i]!.type === 'moof') sequences.push(parseFragment(boxes[i]!.bytes, boxes[i + 1]!.bytes, tracks).sequence);
    }
    expect(sequences).toEqual(sequences.map((_s, i) => i + 1));
    expect(splicer.stats.samplesCut).toBeGreaterThan(0);
  });

  it('leaves out a picture that would be shown for less than 10 ms before a cut: the one before it is shown until the cut', () => {
    // Where run A's 76th picture starts (ms; the first picture also covers the sound's priming).
    const inA = new Mp4BoxReader().push(runA);
    const aTracks = parseMovie(inA.find((b) => b.type === 'moov')!.bytes);
    const aVideo = [...aTracks.values()].find((t) => t.handler === 'vide')!;
    const aFirst = parseFragment(inA[inA.findIndex((b) => b.type === 'moof')]!.bytes, inA[inA.findIndex((b) => b.type === 'moof') + 1]!.bytes, aTracks);
    const aRun = aFirst.runs.find((r) => r.trackId === aVideo.trackId)!;
    const frameTicks = aRun.samples[1]!.duration;
    const startMs = ((aRun.baseTime + aRun.samples[0]!.duration + 74 * frameTicks) / aVideo.timescale) * 1000;
    const lengths: number[] = [];
    for (const afterFrameMs of [2, 12]) {
      const splicer = new Mp4Splicer();
      const joined = collect(splicer);
      splicer.beginRun(100_000);
      feed(splicer, runA, 65_536);
      // The cut falls 2 ms, then 12 ms, into the 76th picture.
      splicer.cutAt(100_000 + startMs + afterFrameMs);
      splicer.endRun();
      splicer.finish();
      const bytes = joined();
      const path = save(bytes, `cut-${afterFrameMs}.mp4`);
      expect(decodeErrors(path)).toBe('');
      lengths.push(packets(path).video.length);
      // Either way the pictures last until the cut.
      const boxes = new Mp4BoxReader().push(bytes);
      const tracks = parseMovie(boxes.find((b) => b.type === 'moov')!.bytes);
      const video = [...tracks.values()].find((t) => t.handler === 'vide')!;
      let shown = 0;
      for (let i = 0; i < boxes.length; i++) {
        if (boxes[i]!.type !== 'moof') continue;
        for (const run of parseFragment(boxes[i]!.bytes, boxes[i + 1]!.bytes, tracks).runs) {
          if (run.trackId === video.trackId) shown += run.samples.reduce((n, x) => n + x.duration, 0);
        }
      }
      expect((shown / video.timescale) * 1000).toBeCloseTo(startMs + afterFrameMs, 0);
    }
    expect(lengths).toEqual([75, 76]);
  });

  it('a single run passes through whole: every frame, the same duration', () => {
    const splicer = new Mp4Splicer();
    const joined = collect(splicer);
    splicer.beginRun(0);
    feed(splicer, runA, 4096);
    splicer.finish();
    const path = save(joined(), 'single.mp4');
    expect(decodeErrors(path)).toBe('');
    expect(Math.abs(duration(path) - duration(save(runA, 'original.mp4')))).toBeLessThan(0.001);
    expect(frameColours(path)).toHaveLength(120);
  });

  it('holds fragments back until a control poll confirms no cut fell inside them', () => {
    let now = 0;
    const splicer = new Mp4Splicer({ now: () => now, maxHoldMs: 15_000 });
    const joined = collect(splicer);
    splicer.beginRun(50_000);
    feed(splicer, runA, 65_536);
    const initOnly = joined().length;
    // Only the init segment so far: ftyp + moov.
    expect(new Mp4BoxReader().push(joined()).map((b) => b.type)).toEqual(['ftyp', 'moov']);
    splicer.confirmUntil(50_000 + 2100);
    expect(joined().length).toBeGreaterThan(initOnly);
    expect(splicer.durationSeconds).toBeGreaterThan(0.9);
    expect(splicer.durationSeconds).toBeLessThanOrEqual(2.1);
    // A cut after what was confirmed still applies to what is held.
    splicer.cutAt(50_000 + 3000);
    splicer.finish();
    expect(splicer.durationSeconds).toBeCloseTo(3, 1);
    // Unconfirmed for longer than maxHoldMs: written anyway (a quiet control channel must not fill memory).
    const late = new Mp4Splicer({ now: () => now, maxHoldMs: 15_000 });
    const lateOut = collect(late);
    late.beginRun(0);
    feed(late, runA.subarray(0, Math.floor(runA.length / 2)), 65_536);
    const before = lateOut().length;
    now = 16_000;
    feed(late, runA.subarray(Math.floor(runA.length / 2)), 65_536);
    expect(lateOut().length).toBeGreaterThan(before);
    expect(late.stats.unconfirmedWrites).toBeGreaterThan(0);
  });

  it('a cut before the run produced anything leaves the file as it was', () => {
    const splicer = new Mp4Splicer();
    const joined = collect(splicer);
    splicer.beginRun(0);
    feed(splicer, runA, 65_536);
    splicer.cutAt(1000);
    splicer.endRun();
    const first = splicer.durationSeconds;
    splicer.beginRun(20_000);
    splicer.cutAt(19_000);
    feed(splicer, runB, 65_536);
    splicer.finish();
    expect(splicer.durationSeconds).toBe(first);
    expect(decodeErrors(save(joined(), 'cut-before.mp4'))).toBe('');
  });

  it('reports a stream that is not MP4 instead of writing it', async () => {
    const splicer = new Mp4Splicer();
    splicer.beginRun(0);
    splicer.write(Buffer.from([0, 0, 0, 3, 0x6d, 0x6f, 0x6f, 0x66]));
    expect((await splicer.failed()).message).toMatch(/Malformed MP4/);
  });
});
