/**
 * Generates the A/V sync test media with ffmpeg's lavfi sources (layout: sync-code.ts): every frame shows
 * its index as a 16-bit code with an inverted check row, the body flashes white for one frame each second,
 * and an 80 ms beep (its pitch naming the second, modulo 8) starts at exactly the same instant.
 *
 * Format: H.264 (x264 ultrafast + fastdecode: no CABAC, no deblocking, so the browser's software decoder
 * spends little CPU) and AAC in MP4 with the index at the front (+faststart). Debian's Chromium plays it
 * (canPlayType 'probably'). CRF 18 keeps the source clean, so what the analyser later finds comes from the
 * pipeline under test, not from the test media. `container: 'webm'` gives VP8 + Opus instead, e.g. to check
 * that the browser's handling of AAC priming does not bias a measurement.
 *
 * The file is generated once per option set into `cacheDir` (written under a temporary name, then renamed,
 * so an interrupted run never leaves a truncated file that looks finished).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIO_SAMPLE_RATE, BEEP_AMPLITUDE, BEEP_BASE_HZ, BEEP_CYCLE, BEEP_SECONDS, BEEP_STEP_HZ, BODY_GRAY, CODE_BITS, CODE_ROW_FRACTION } from './sync-code.ts';

export interface SyncMediaOptions {
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
  cacheDir: string;
  /** 'mp4' (H.264 + AAC, the default) or 'webm' (VP8 + Opus). */
  container?: 'mp4' | 'webm';
}

/** Bump when the picture or sound changes, so stale cached files are not reused. */
const LAYOUT_VERSION = 2;
const LABEL_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

const inFlight = new Map<string, Promise<string>>();

/** Returns the path of the sync media for these options, generating it first if it is not cached. */
export async function ensureSyncMedia(opts: SyncMediaOptions): Promise<string> {
  const { width, height, fps, durationSeconds } = opts;
  const container = opts.container ?? 'mp4';
  if (width % 2 || height % 2) throw new Error(`sync media: width and height must be even (got ${width}x${height})`);
  if (!Number.isInteger(fps) || fps <= 0) throw new Error(`sync media: fps must be a positive integer (got ${fps})`);
  if (fps * durationSeconds > 2 ** CODE_BITS) {
    throw new Error(`sync media: ${durationSeconds} s at ${fps} fps exceeds the ${CODE_BITS}-bit frame code (${2 ** CODE_BITS} frames)`);
  }
  const label = existsSync(LABEL_FONT);
  const name = `sync-v${LAYOUT_VERSION}-${width}x${height}-${fps}fps-${durationSeconds}s${label ? '' : '-nolabel'}.${container}`;
  const path = join(opts.cacheDir, name);
  if (existsSync(path)) return path;
  // Concurrent callers in this process share one generation (this runs before the first await).
  let pending = inFlight.get(path);
  if (!pending) {
    pending = generate(path, { ...opts, container }, label).finally(() => inFlight.delete(path));
    inFlight.set(path, pending);
  }
  return pending;
}

/** The ffmpeg arguments that write the sync media to `output` (exported for inspection and docs). */
export function syncMediaArgs(opts: Omit<SyncMediaOptions, 'cacheDir'>, output: string, label = existsSync(LABEL_FONT)): string[] {
  const { width: w, height: h, fps, durationSeconds: d } = opts;
  // Two code rows of equal height (10 % of the picture each); the body takes the rest.
  const codeHeight = 2 * Math.max(1, Math.round(h * CODE_ROW_FRACTION));
  const bodyHeight = h - codeHeight;
  const bit = `mod(floor(N/pow(2,${CODE_BITS - 1}-X)),2)`;
  const hexGray = `0x${BODY_GRAY.toString(16).padStart(2, '0').repeat(3)}`;
  const video = [
    // The code: a 16×2 gray picture per frame (row 0 = bits of N, row 1 = inverted), blown up without
    // interpolation to the full width. geq on 32 pixels costs nothing, unlike geq on the whole frame.
    `nullsrc=s=${CODE_BITS}x2:r=${fps}:d=${d},format=gray,`,
    `geq=lum='255*if(eq(Y,0),${bit},1-${bit})',`,
    `scale=${w}:${codeHeight}:flags=neighbor,format=yuv420p[code];`,
    // The body: dark gray, filled white on the first frame of each second.
    `color=c=${hexGray}:s=${w}x${bodyHeight}:r=${fps}:d=${d},`,
    `drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(n,${fps}),1)',`,
    // A readable frame number for people looking at a recording (the analyser ignores it).
    label ? `drawtext=fontfile=${LABEL_FONT}:text='%{n}':fontcolor=0x808080:fontsize=${Math.round(h / 12)}:x=(w-tw)/2:y=(h-th)/2,` : '',
    `format=yuv420p[body];`,
    `[code][body]vstack`,
  ].join('');
  // t is exactly k at sample k*48000 (48000*k/48000 is exact in floating point): each beep starts at the
  // flash instant, with the sine at phase 0 (a whole number of Hz times a whole number of seconds).
  const hz = `(${BEEP_BASE_HZ}+${BEEP_STEP_HZ}*mod(floor(t)\\,${BEEP_CYCLE}))`;
  const audio = `aevalsrc=exprs='if(lt(mod(t\\,1)\\,${BEEP_SECONDS})\\,${BEEP_AMPLITUDE}*sin(2*PI*${hz}*t)\\,0)':s=${AUDIO_SAMPLE_RATE}:d=${d}`;
  const codecs =
    opts.container === 'webm'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${Math.round((w * h * fps) / 4000)}k`, '-crf', '10', '-g', String(fps * 2), '-c:a', 'libopus', '-b:a', '128k']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'fastdecode', '-crf', '18', '-g', String(fps * 2), '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart'];
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', video,
    '-f', 'lavfi', '-i', audio,
    '-map', '0:v', '-map', '1:a',
    '-pix_fmt', 'yuv420p', '-r', String(fps),
    ...codecs,
    '-ar', String(AUDIO_SAMPLE_RATE),
    '-t', String(d),
    output,
  ];
}

async function generate(path: string, opts: SyncMediaOptions, label: boolean): Promise<string> {
  mkdirSync(opts.cacheDir, { recursive: true });
  const ext = opts.container === 'webm' ? 'webm' : 'mp4';
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}.${ext}`;
  try {
    await run('ffmpeg', syncMediaArgs(opts, tmp, label));
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return path;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`)),
    );
  });
}
