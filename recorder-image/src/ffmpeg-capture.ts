/**
 * The capture/encoder pipeline: ffmpeg grabs the X display and the Pulse monitor and writes fragmented MP4
 * (H.264/AAC) to stdout. Fragmented output can be streamed to S3 while recording and plays even if the
 * process dies, because every fragment is self-contained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { RecorderError } from './recorder-error.ts';
import { tail, waitForExit } from './child-process.ts';

export interface CaptureOptions {
  display: string;
  pulseServer: string;
  audioSource: string;
  width: number;
  height: number;
  fps: number;
  x264Preset: string;
  videoMaxBitrateKbps: number;
}

export interface CaptureProgress {
  frame: number;
  outTimeSeconds: number;
  dropFrames: number;
  dupFrames: number;
}

export function ffmpegArgs(o: CaptureOptions): string[] {
  const gop = o.fps * 2;
  return [
    '-hide_banner',
    // info: the input dump carries x11grab's wall-clock start time (see firstFrameAtMs).
    '-loglevel', 'info',
    '-nostats',
    '-progress', 'pipe:3',
    '-stats_period', '0.25',
    '-thread_queue_size', '512',
    '-f', 'x11grab', '-draw_mouse', '0', '-framerate', String(o.fps), '-video_size', `${o.width}x${o.height}`, '-i', `${o.display}.0+0,0`,
    '-thread_queue_size', '512',
    // PulseAudio's default fragment size: a small one (e.g. 20 ms) made opening the input take 2 s instead of 0.5 s.
    '-f', 'pulse', '-sample_rate', '48000', '-channels', '2', '-i', o.audioSource,
    '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', o.x264Preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-crf', '23', '-maxrate', `${o.videoMaxBitrateKbps}k`, '-bufsize', `${o.videoMaxBitrateKbps * 2}k`,
    '-g', String(gop), '-keyint_min', String(gop), '-r', String(o.fps),
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000',
    // One fragment per keyframe (2 s): each is finished and flushed as soon as it is encoded.
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-f', 'mp4', 'pipe:1',
  ];
}

export class FfmpegCapture {
  private readonly child: ChildProcess;
  private readonly stderr = tail();
  private progressListeners: ((p: CaptureProgress) => void)[] = [];
  private startListeners: (() => void)[] = [];
  private stopping = false;
  /** True once ffmpeg finished the file on request ('q'), as opposed to dying on its own. */
  finishedCleanly = false;
  last: CaptureProgress = { frame: 0, outTimeSeconds: 0, dropFrames: 0, dupFrames: 0 };
  /**
   * Wall-clock time of the first captured frame (ms since epoch). x11grab stamps frames with the wall clock
   * and ffmpeg prints the input's first timestamp ("start: <epoch seconds>"); progress reports arrive late
   * (audio interleaving holds the pipeline back by up to a second), so they are only the fallback.
   */
  firstFrameAtMs?: number;
  readonly output: Readable;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: CaptureOptions) {
    this.child = spawn('ffmpeg', ffmpegArgs(options), {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, PULSE_SERVER: options.pulseServer },
    });
    this.output = this.child.stdout!;
    this.exited = waitForExit(this.child);
    let header = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr.push(d);
      if (this.firstFrameAtMs === undefined && header.length < 64_000) {
        header += d.toString();
        const m = /Input #0, x11grab[\s\S]*?start: (\d+\.\d+)[\s\S]*Output #0/.exec(header);
        if (m) {
          // The display gave its first frame and the output is open: capture has started.
          this.firstFrameAtMs = Math.round(Number(m[1]) * 1000);
          for (const listener of this.startListeners) listener();
        }
      }
    });
    this.child.stdin!.on('error', () => undefined);
    let pending = '';
    let block: Record<string, string> = {};
    (this.child.stdio[3] as Readable).on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const eq = line.indexOf('=');
        if (eq < 0) continue;
        const key = line.slice(0, eq).trim();
        block[key] = line.slice(eq + 1).trim();
        if (key === 'progress') {
          this.last = {
            frame: Number(block.frame ?? 0),
            outTimeSeconds: Math.max(0, Number(block.out_time_us ?? 0) / 1e6) || 0,
            dropFrames: Number(block.drop_frames ?? 0),
            dupFrames: Number(block.dup_frames ?? 0),
          };
          block = {};
          if (this.firstFrameAtMs === undefined && this.last.frame > 0) {
            this.firstFrameAtMs = Date.now() - Math.round(this.last.outTimeSeconds * 1000);
          }
          for (const listener of this.progressListeners) listener(this.last);
        }
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  onProgress(listener: (p: CaptureProgress) => void): void {
    this.progressListeners.push(listener);
  }

  /** Resolves once capture has started (first frame grabbed and output open), or at the first encoded frame. */
  firstFrame(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RecorderError('encoder_failed', `No frame captured within ${timeoutMs} ms: ${this.stderr.text}`)), timeoutMs);
      const started = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.firstFrameAtMs !== undefined) return started();
      this.startListeners.push(started);
      this.onProgress((p) => p.frame > 0 && started());
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new RecorderError('encoder_failed', `ffmpeg exited (code ${code}, signal ${signal}) before the first frame: ${this.stderr.text}`));
      });
    });
  }

  /** An unexpected exit while recording, as an error; never resolves after a requested stop. */
  failure(): Promise<RecorderError> {
    return this.exited.then(
      ({ code, signal }) =>
        new Promise<RecorderError>((resolve) => {
          if (!this.stopping) resolve(new RecorderError('encoder_failed', `ffmpeg exited while recording (code ${code}, signal ${signal}): ${this.stderr.text}`));
        }),
    );
  }

  /**
   * Waits until the encoder has written media up to `seconds` (or `timeoutMs` passes). The pipeline runs
   * behind the wall clock, and 'q' drops what is still queued, so a stop first lets it catch up.
   */
  drainUntil(seconds: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.last.outTimeSeconds >= seconds || this.child.exitCode !== null) return resolve();
      const timer = setTimeout(resolve, timeoutMs);
      this.onProgress((p) => {
        if (p.outTimeSeconds >= seconds) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.exited.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Asks ffmpeg to finish the file ('q' on stdin) and waits; kills it if it does not finish in time. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end('q');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (code !== 0 && code !== 255) {
      throw new RecorderError('encoder_failed', `ffmpeg did not finish cleanly (code ${code}, signal ${signal}): ${this.stderr.text}`);
    }
    this.finishedCleanly = true;
  }

  get stderrTail(): string {
    return this.stderr.text;
  }
}
