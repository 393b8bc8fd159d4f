/**
 * Fragmented MP4 (`ftyp moov | moof mdat | moof mdat | ...`) at the box level:
 *  - Mp4BoundaryTracker finds where fragments end in a stream, so the uploader can cut its pending segments
 *    there (a file cut at such a boundary is a complete, playable fMP4);
 *  - Mp4BoxReader, parseMovie, parseFragment and writeFragment read and rewrite fragments, for the splicer
 *    that joins encoder runs across pauses (mp4-splicer.ts).
 */
export class Mp4BoundaryTracker {
  /** Bytes seen so far. */
  private total = 0;
  /** File offset where the box being read starts, and its size once its header is known. */
  private boxStart = 0;
  private boxSize: number | undefined;
  private boxType = '';
  private header = Buffer.alloc(0);
  /** End offset of the last complete `moov` or `mdat`: everything before it plays on its own. */
  lastBoundary = 0;

  /** Feeds the next chunk of the stream; returns the (possibly advanced) last playable boundary. */
  push(chunk: Buffer): number {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.boxSize === undefined) {
        // Collect the header: size(4) type(4), then largesize(8) only when size is 1.
        const wanted = this.header.length >= 8 && this.header.readUInt32BE(0) === 1 ? 16 : 8;
        const need = wanted - this.header.length;
        const take = chunk.subarray(pos, pos + need);
        this.header = Buffer.concat([this.header, take]);
        pos += take.length;
        this.total += take.length;
        if (this.header.length < 8) continue;
        const size32 = this.header.readUInt32BE(0);
        this.boxType = this.header.toString('latin1', 4, 8);
        if (size32 === 1) {
          if (this.header.length < 16) continue;
          this.boxSize = Number(this.header.readBigUInt64BE(8));
        } else if (size32 === 0) {
          // "to the end of the file": never written to a stream; treat the rest as one box.
          this.boxSize = Number.POSITIVE_INFINITY;
        } else {
          this.boxSize = size32;
        }
        if (this.boxSize < 8) throw new Error(`Malformed MP4 stream: box '${this.boxType}' of size ${this.boxSize} at ${this.boxStart}`);
        this.header = Buffer.alloc(0);
      } else {
        const end = this.boxStart + this.boxSize;
        const take = Math.min(chunk.length - pos, end - this.total);
        pos += take;
        this.total += take;
      }
      if (this.boxSize !== undefined && this.total >= this.boxStart + this.boxSize) {
        if (this.boxType === 'mdat' || this.boxType === 'moov') this.lastBoundary = this.boxStart + this.boxSize;
        this.boxStart += this.boxSize;
        this.boxSize = undefined;
      }
    }
    return this.lastBoundary;
  }

  get bytesSeen(): number {
    return this.total;
  }
}

/** A whole top-level box: `bytes` includes its header. */
export interface Mp4Box {
  type: string;
  bytes: Buffer;
}

/** Splits a stream into whole top-level boxes; a box that never completes (the writer died) never comes out. */
export class Mp4BoxReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): Mp4Box[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const boxes: Mp4Box[] = [];
    for (;;) {
      if (this.length < 8) break;
      const head = this.peek(Math.min(16, this.length));
      const size32 = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (size32 === 0) throw new Error(`Malformed MP4 stream: box '${type}' runs to the end of the file, which a stream cannot have`);
      if (size32 === 1 && head.length < 16) break;
      const size = size32 === 1 ? Number(head.readBigUInt64BE(8)) : size32;
      if (size < (size32 === 1 ? 16 : 8)) throw new Error(`Malformed MP4 stream: box '${type}' of size ${size}`);
      if (this.length < size) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      boxes.push({ type, bytes: all.subarray(0, size) });
      const rest = all.subarray(size);
      this.chunks = rest.length ? [rest] : [];
      this.length = rest.length;
    }
    return boxes;
  }

  /** Bytes of a box that has not completed yet. */
  get pendingBytes(): number {
    return this.length;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }
}

interface BoxRef {
  type: string;
  /** Offsets in the buffer given: the box's start, its payload's start, its end. */
  start: number;
  body: number;
  end: number;
}

/** The child boxes of `buf[start, end)`. */
function childBoxes(buf: Buffer, start: number, end: number): BoxRef[] {
  const out: BoxRef[] = [];
  let pos = start;
  while (pos + 8 <= end) {
    const size32 = buf.readUInt32BE(pos);
    const header = size32 === 1 ? 16 : 8;
    const size = size32 === 1 ? Number(buf.readBigUInt64BE(pos + 8)) : size32 === 0 ? end - pos : size32;
    if (size < header || pos + size > end) throw new Error(`Malformed MP4 box '${buf.toString('latin1', pos + 4, pos + 8)}' at ${pos}`);
    out.push({ type: buf.toString('latin1', pos + 4, pos + 8), start: pos, body: pos + header, end: pos + size });
    pos += size;
  }
  return out;
}
const child = (buf: Buffer, parent: BoxRef, type: string) => childBoxes(buf, parent.body, parent.end).find((b) => b.type === type);

export interface Mp4Track {
  trackId: number;
  /** Ticks per second of the track's media time. */
  timescale: number;
  /** Handler type: 'vide', 'soun', ... */
  handler: string;
  /** The sample description box (codec and its parameters) as written. */
  sampleDescription: Buffer;
  /** The track's fragment defaults from `trex`. */
  defaults: { duration: number; size: number; flags: number };
}

/** The tracks an init segment (`moov` of a fragmented MP4) declares. */
export function parseMovie(moov: Buffer): Map<number, Mp4Track> {
  const root: BoxRef = { type: 'moov', start: 0, body: 8, end: moov.length };
  const tracks = new Map<number, Mp4Track>();
  const trex = new Map<number, Mp4Track['defaults']>();
  for (const box of childBoxes(moov, root.body, root.end)) {
    if (box.type === 'mvex') {
      for (const t of childBoxes(moov, box.body, box.end).filter((b) => b.type === 'trex')) {
        trex.set(moov.readUInt32BE(t.body + 4), {
          duration: moov.readUInt32BE(t.body + 12),
          size: moov.readUInt32BE(t.body + 16),
          flags: moov.readUInt32BE(t.body + 20),
        });
      }
    }
    if (box.type !== 'trak') continue;
    const tkhd = child(moov, box, 'tkhd');
    const mdia = child(moov, box, 'mdia');
    const mdhd = mdia && child(moov, mdia, 'mdhd');
    const hdlr = mdia && child(moov, mdia, 'hdlr');
    const minf = mdia && child(moov, mdia, 'minf');
    const stbl = minf && child(moov, minf, 'stbl');
    const stsd = stbl && child(moov, stbl, 'stsd');
    if (!tkhd || !mdhd || !hdlr || !stsd) throw new Error('Malformed MP4 init segment: a track lacks tkhd, mdhd, hdlr or stsd');
    const trackId = moov.readUInt32BE(tkhd.body + (moov[tkhd.body] === 1 ? 20 : 12));
    tracks.set(trackId, {
      trackId,
      timescale: moov.readUInt32BE(mdhd.body + (moov[mdhd.body] === 1 ? 20 : 12)),
      handler: moov.toString('latin1', hdlr.body + 8, hdlr.body + 12),
      sampleDescription: moov.subarray(stsd.start, stsd.end),
      defaults: { duration: 0, size: 0, flags: 0 },
    });
  }
  for (const [id, d] of trex) {
    const track = tracks.get(id);
    if (track) track.defaults = d;
  }
  return tracks;
}

export interface Mp4Sample {
  /** In the track's timescale. */
  duration: number;
  flags: number;
  /** Composition time offset (0 without B-frames). */
  cto: number;
  data: Buffer;
}

export interface Mp4TrackRun {
  trackId: number;
  /** tfhd's sample description index, when it names one. */
  sampleDescriptionIndex?: number;
  /** Decode time of the first sample, in the track's timescale. */
  baseTime: number;
  samples: Mp4Sample[];
}

export interface Mp4Fragment {
  sequence: number;
  runs: Mp4TrackRun[];
}

/** Decode time just after a run's last sample. */
export function runEnd(run: Mp4TrackRun): number {
  return run.samples.reduce((t, s) => t + s.duration, run.baseTime);
}

/**
 * Reads one fragment (`moof` and the `mdat` right after it) into samples. Supports what ISO/IEC 14496-12
 * allows for default-base-is-moof fragments (ffmpeg's `+default_base_moof`): several runs per track,
 * defaults from tfhd or trex, per-sample or first-sample flags.
 */
export function parseFragment(moof: Buffer, mdat: Buffer, tracks: Map<number, Mp4Track>): Mp4Fragment {
  const root: BoxRef = { type: 'moof', start: 0, body: 8, end: moof.length };
  const mdatHeader = mdat.readUInt32BE(0) === 1 ? 16 : 8;
  // Sample data offsets count from the moof's first byte; the mdat follows it directly.
  const bytesAt = (offset: number, size: number): Buffer => {
    const from = offset - moof.length;
    if (from < mdatHeader || from + size > mdat.length) throw new Error(`Malformed MP4 fragment: sample data at ${offset} (+${size}) is outside its mdat`);
    return mdat.subarray(from, from + size);
  };
  let sequence = 0;
  const runs: Mp4TrackRun[] = [];
  for (const box of childBoxes(moof, root.body, root.end)) {
    if (box.type === 'mfhd') sequence = moof.readUInt32BE(box.body + 4);
    if (box.type !== 'traf') continue;
    const parts = childBoxes(moof, box.body, box.end);
    const tfhd = parts.find((b) => b.type === 'tfhd');
    if (!tfhd) throw new Error('Malformed MP4 fragment: traf without tfhd');
    const tfhdFlags = moof.readUInt32BE(tfhd.body) & 0xffffff;
    const trackId = moof.readUInt32BE(tfhd.body + 4);
    const track = tracks.get(trackId);
    if (!track) throw new Error(`MP4 fragment for unknown track ${trackId}`);
    if (tfhdFlags & 0x01 || !(tfhdFlags & 0x020000)) throw new Error('Unsupported MP4 fragment: data offsets must count from the moof (default-base-is-moof)');
    let p = tfhd.body + 8;
    const field = (flag: number) => {
      if (!(tfhdFlags & flag)) return undefined;
      const v = moof.readUInt32BE(p);
      p += 4;
      return v;
    };
    const sampleDescriptionIndex = field(0x02);
    const defDuration = field(0x08) ?? track.defaults.duration;
    const defSize = field(0x10) ?? track.defaults.size;
    const defFlags = field(0x20) ?? track.defaults.flags;
    const tfdt = parts.find((b) => b.type === 'tfdt');
    const baseTime = !tfdt ? 0 : moof[tfdt.body] === 1 ? Number(moof.readBigUInt64BE(tfdt.body + 4)) : moof.readUInt32BE(tfdt.body + 4);
    const samples: Mp4Sample[] = [];
    let next: number | undefined;
    for (const trun of parts.filter((b) => b.type === 'trun')) {
      const version = moof[trun.body]!;
      const flags = moof.readUInt32BE(trun.body) & 0xffffff;
      const count = moof.readUInt32BE(trun.body + 4);
      let q = trun.body + 8;
      let offset = next;
      if (flags & 0x01) {
        offset = moof.readInt32BE(q);
        q += 4;
      }
      if (offset === undefined) throw new Error('Unsupported MP4 fragment: a track run without a data offset');
      let firstFlags: number | undefined;
      if (flags & 0x04) {
        firstFlags = moof.readUInt32BE(q);
        q += 4;
      }
      const read = () => {
        const v = moof.readUInt32BE(q);
        q += 4;
        return v;
      };
      for (let i = 0; i < count; i++) {
        const duration = flags & 0x100 ? read() : defDuration;
        const size = flags & 0x200 ? read() : defSize;
        const sampleFlags = flags & 0x400 ? read() : i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
        // Version 0 stores composition offsets unsigned, version 1 signed.
        const cto = flags & 0x800 ? (version === 0 ? read() : read() | 0) : 0;
        samples.push({ duration, flags: sampleFlags, cto, data: bytesAt(offset, size) });
        offset += size;
      }
      next = offset;
    }
    runs.push({ trackId, ...(sampleDescriptionIndex !== undefined && { sampleDescriptionIndex }), baseTime, samples });
  }
  return { sequence, runs };
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const size = 8 + payload.reduce((n, b) => n + b.length, 0);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, ...payload]);
}

/**
 * Writes a fragment as `moof` + `mdat`: one run per track, every sample's duration, size, flags (and
 * composition offset, when any is set) written out, data offsets counted from the moof.
 */
export function writeFragment(fragment: Mp4Fragment): Buffer {
  const runs = fragment.runs.filter((r) => r.samples.length > 0);
  const mfhd = box('mfhd', Buffer.from([0, 0, 0, 0]), u32(fragment.sequence));
  const trafSizes: number[] = [];
  const build = (dataOffsets: number[]) =>
    runs.map((run, i) => {
      const withCto = run.samples.some((s) => s.cto !== 0);
      const tfhdFlags = 0x020000 | (run.sampleDescriptionIndex !== undefined ? 0x02 : 0);
      const tfhd = box('tfhd', u32(tfhdFlags), u32(run.trackId), ...(run.sampleDescriptionIndex !== undefined ? [u32(run.sampleDescriptionIndex)] : []));
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(run.baseTime));
      const tfdt = box('tfdt', u32(0x01000000), time);
      const trunFlags = 0x01 | 0x100 | 0x200 | 0x400 | (withCto ? 0x800 : 0);
      const perSample = Buffer.alloc(run.samples.length * (withCto ? 16 : 12));
      run.samples.forEach((s, k) => {
        const at = k * (withCto ? 16 : 12);
        perSample.writeUInt32BE(s.duration, at);
        perSample.writeUInt32BE(s.data.length, at + 4);
        perSample.writeUInt32BE(s.flags >>> 0, at + 8);
        if (withCto) perSample.writeInt32BE(s.cto, at + 12);
      });
      // Version 1: signed composition offsets.
      const trun = box('trun', u32(((withCto ? 1 : 0) << 24) | trunFlags), u32(run.samples.length), i32(dataOffsets[i] ?? 0), perSample);
      const traf = box('traf', tfhd, tfdt, trun);
      trafSizes[i] = traf.length;
      return traf;
    });
  build([]);
  const moofSize = 8 + mfhd.length + trafSizes.reduce((n, s) => n + s, 0);
  const offsets: number[] = [];
  let at = moofSize + 8;
  for (const run of runs) {
    offsets.push(at);
    at += run.samples.reduce((n, s) => n + s.data.length, 0);
  }
  const moof = box('moof', mfhd, ...build(offsets));
  const mdat = box('mdat', ...runs.flatMap((r) => r.samples.map((s) => s.data)));
  return Buffer.concat([moof, mdat]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
