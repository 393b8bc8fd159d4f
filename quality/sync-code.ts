/**
 * The picture and sound layout of the sync test media, shared by the generator (sync-media.ts) and the
 * analyser (analyse.ts). Every position is a fraction of the picture, so a frame can be read back at any
 * scale.
 *
 *   ┌────────────────────────────────────────────┐
 *   │ b15 b14 … b0   (frame index n, MSB first)   │  code row 0: 10 % of the height, 16 equal cells
 *   │ ~b15 ~b14 … ~b0 (the same bits, inverted)   │  code row 1: 10 % of the height
 *   ├────────────────────────────────────────────┤
 *   │                                            │
 *   │  body: dark gray; WHITE for exactly one     │  80 % of the height
 *   │  frame each second (n % fps == 0)          │
 *   │                                            │
 *   └────────────────────────────────────────────┘
 *
 * A bit is read by comparing its cell with the inverted cell below it, so the code does not depend on
 * absolute levels (colour conversion, browser scaling, compression), and a cell that is neither clearly
 * black nor clearly white over clearly the opposite (a blend of two frames, a torn frame, a smeared block)
 * makes the whole frame unreadable instead of decoding to a wrong index.
 *
 * Sound: a sine beep of BEEP_SECONDS starting exactly at each flash instant (t = k seconds, the
 * presentation time of source frame k*fps), silence otherwise. The beep's pitch says which second it
 * belongs to, modulo BEEP_CYCLE (600, 800, …, 2000 Hz for k mod 8 = 0…7), so a flash is paired with the
 * beep of its own second even when audio and video are more than half a second apart (with one pitch, an
 * offset of −700 ms would read as +300 ms). Each pitch is a whole number of Hz, so every beep starts at
 * phase 0.
 */

/** Bits in the frame-index code: indices wrap after 65536 frames (36 min at 30 fps). */
export const CODE_BITS = 16;
/** Height of each of the two code rows, as a fraction of the picture height. */
export const CODE_ROW_FRACTION = 0.1;
/** Body level (8-bit gray) between flashes. */
export const BODY_GRAY = 0x40;
/** Frames per flash: one, so a flash marks one exact source instant (the best time precision). */
export const FLASH_FRAMES = 1;
export const BEEP_BASE_HZ = 600;
export const BEEP_STEP_HZ = 200;
export const BEEP_CYCLE = 8;
/** Pitch of the beep of source second k. */
export const beepHz = (second: number) => BEEP_BASE_HZ + BEEP_STEP_HZ * (second % BEEP_CYCLE);
/** The second modulo BEEP_CYCLE that a measured pitch says, or null if it is not one of the pitches. */
export function beepId(hz: number): number | null {
  const id = Math.round((hz - BEEP_BASE_HZ) / BEEP_STEP_HZ);
  return id >= 0 && id < BEEP_CYCLE && Math.abs(hz - beepHz(id)) < BEEP_STEP_HZ / 3 ? id : null;
}
export const BEEP_SECONDS = 0.08;
export const BEEP_AMPLITUDE = 0.5;
export const AUDIO_SAMPLE_RATE = 48_000;

/**
 * The analyser reads every frame scaled (area-averaged) to this gray grid: 8 columns per code cell and
 * 10 rows per code row, 12.8 kB per frame.
 */
export const ANALYSIS_WIDTH = CODE_BITS * 8;
export const ANALYSIS_HEIGHT = 100;

/** What one analysis-size gray frame shows. */
export interface FrameReading {
  /** The frame index the code shows, or null when any bit is ambiguous. */
  index: number | null;
  /** Mean gray level (0–255) of the body, the flash area. */
  bodyLevel: number;
  /** The smallest |bit cell − inverted cell| difference: how clearly the code was read. */
  codeMargin: number;
}

/** Minimum difference (8-bit levels) between a bit cell and its inverted cell for the bit to count. */
export const DEFAULT_CODE_MARGIN = 60;

/** Mean of a rectangle of an ANALYSIS_WIDTH-wide gray frame. */
function meanOf(frame: Uint8Array, x0: number, y0: number, x1: number, y1: number): number {
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    const row = y * ANALYSIS_WIDTH;
    for (let x = x0; x < x1; x++) sum += frame[row + x];
  }
  return sum / ((x1 - x0) * (y1 - y0));
}

/**
 * Reads an ANALYSIS_WIDTH × ANALYSIS_HEIGHT gray frame. Only the middle of each cell is sampled (4×4 of its
 * 8×10 pixels), so edges smeared by scaling or compression do not matter.
 */
export function readFrame(frame: Uint8Array, minMargin = DEFAULT_CODE_MARGIN): FrameReading {
  const rowHeight = ANALYSIS_HEIGHT * CODE_ROW_FRACTION; // 10
  const cellWidth = ANALYSIS_WIDTH / CODE_BITS; // 8
  let index = 0;
  let codeMargin = Infinity;
  for (let bit = 0; bit < CODE_BITS; bit++) {
    const x0 = bit * cellWidth + 2;
    const plain = meanOf(frame, x0, 3, x0 + 4, 7);
    const inverted = meanOf(frame, x0, rowHeight + 3, x0 + 4, rowHeight + 7);
    codeMargin = Math.min(codeMargin, Math.abs(plain - inverted));
    index = index * 2 + (plain > inverted ? 1 : 0);
  }
  // The body, away from its edges (and from the code rows above it).
  const bodyLevel = meanOf(frame, 4, 2 * rowHeight + 5, ANALYSIS_WIDTH - 4, ANALYSIS_HEIGHT - 5);
  return { index: codeMargin >= minMargin ? index : null, bodyLevel, codeMargin };
}
