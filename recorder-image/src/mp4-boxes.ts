/**
 * Finds the top-level box boundaries in a streamed (fragmented) MP4, so the uploader can cut its pending
 * segments where a fragment ends: `ftyp moov | moof mdat | moof mdat | ...`. A file cut at such a boundary
 * is a complete, playable fMP4.
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
