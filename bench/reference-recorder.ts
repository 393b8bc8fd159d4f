/**
 * The bench's reference pipeline: the AWS Chime recording sample's public capture settings, run on the
 * same display/audio/browser stack as our recorder so that only the capture and encoding differ.
 *
 *   ffmpeg x11grab 30 fps + pulse, libx264 main veryfast CBR 3000k, GOP 60, audio delayed 350 ms,
 *   AAC 160k, fragmented MP4.
 *
 * Runs as its own process so its CPU and memory are measured over its own process tree, exactly as the
 * recorder measures itself. Prints one JSON line with the figures.
 *
 * With --no-capture it measures the page alone: the same display, sound server and browser on the same
 * page, and no ffmpeg. That is the floor under any capture of the page on this machine.
 *
 * After the measured window, with the capture still running, it watches for PICTURE_WATCH_MS where the
 * page's pictures reach the screen (landing-probe.ts) and prints how steadily they came (pictureTiming):
 * the watch's own CPU is not in the figures.
 *
 *   node bench/reference-recorder.ts --url URL --seconds 60 --out ref.mp4 [--width 1280 --height 720] [--audio-delay-ms 350]
 *   node bench/reference-recorder.ts --url URL --seconds 20 --no-capture [--width 1280 --height 720]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlagsOrExit } from '../local/cli-args.ts';
import { ChromiumBrowserSource } from '../recorder-image/src/browser-source.ts';
import { parseAllowedHosts } from '../functions/core/url-policy.ts';
import { waitForExit } from '../recorder-image/src/child-process.ts';
import { startAvEnvironment } from '../recorder-image/src/display.ts';
import { pictureArrivals, pictureTiming } from '../recorder-image/src/landing-probe.ts';
import { coresByPart, ProcessTreeCpu } from '../recorder-image/src/process-cpu.ts';

/** How long the pictures are watched after the measured window (ms): ~60 intervals at 30 fps. */
const PICTURE_WATCH_MS = 2000;
/** The sync page's picture rate (its video is 30 fps, as is this capture). */
const PAGE_FPS = 30;

const USAGE = 'Usage: node bench/reference-recorder.ts --url URL --seconds N (--out FILE | --no-capture) [--width 1280] [--height 720] [--audio-delay-ms 350]';

export const REFERENCE_SETTINGS = {
  capture: 'x11grab 30 fps + pulse',
  video: 'libx264 main, veryfast, CBR 3000k (nal-hrd=cbr), GOP 60',
  audio: 'AAC 160k, delayed 350 ms (-itsoffset 0.35)',
  container: 'fragmented MP4',
};

export function referenceFfmpegArgs(o: { display: string; audioSource: string; width: number; height: number; out: string; audioDelayMs: number }): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostats',
    '-thread_queue_size', '512',
    '-f', 'x11grab', '-draw_mouse', '0', '-framerate', '30', '-video_size', `${o.width}x${o.height}`, '-i', `${o.display}.0+0,0`,
    '-thread_queue_size', '512',
    ...(o.audioDelayMs ? ['-itsoffset', String(o.audioDelayMs / 1000)] : []),
    '-f', 'pulse', '-ac', '2', '-i', o.audioSource,
    '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-profile:v', 'main', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-x264opts', 'nal-hrd=cbr:no-scenecut', '-b:v', '3000k', '-minrate', '3000k', '-maxrate', '3000k', '-bufsize', '6000k',
    '-g', '60', '-r', '30',
    '-c:a', 'aac', '-b:a', '160k',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-f', 'mp4', '-y', o.out,
  ];
}

async function main() {
  const flags = parseFlagsOrExit(process.argv.slice(2), { url: 'string', seconds: 'number', out: 'string', 'no-capture': 'boolean', width: 'number', height: 'number', 'audio-delay-ms': 'number' }, USAGE);
  const capture = flags['no-capture'] !== true;
  if (!flags.url || (capture ? !flags.out : flags.out) || !flags.seconds) {
    console.error(USAGE);
    process.exit(2);
  }
  const width = Number(flags.width ?? 1280);
  const height = Number(flags.height ?? 720);
  const workDir = mkdtempSync(join(tmpdir(), 'mr-reference-'));
  const usage = new ProcessTreeCpu();
  const timer = setInterval(() => usage.sample(), 2000);
  const av = await startAvEnvironment({ width, height, workDir });
  // The page under test is local: open its host (only it) in the SSRF policy.
  const urlPolicy = { allowedHosts: parseAllowedHosts(new URL(String(flags.url)).host) };
  const browser = new ChromiumBrowserSource({ executablePath: '/usr/bin/chromium', display: av.display, pulseServer: av.pulseServer, width, height, workDir, loadTimeoutMs: 20_000, urlPolicy });
  try {
    await browser.open(String(flags.url));
    const ffmpeg = capture
      ? spawn('ffmpeg', referenceFfmpegArgs({ ...av, width, height, out: String(flags.out), audioDelayMs: Number(flags['audio-delay-ms'] ?? 350) }), {
          stdio: ['pipe', 'ignore', 'inherit'],
          env: { ...process.env, PULSE_SERVER: av.pulseServer },
        })
      : undefined;
    const exited = ffmpeg && waitForExit(ffmpeg);
    // Let capture settle before the measured window, as the recorder measures from its first frame.
    await new Promise((r) => setTimeout(r, 2000));
    const cpuStart = usage.sample();
    const partsStart = usage.secondsByPart();
    const windowStart = Date.now();
    await new Promise((r) => setTimeout(r, Number(flags.seconds) * 1000));
    const cpuSeconds = usage.sample() - cpuStart;
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const cpuCoresByPart = coresByPart(partsStart, usage.secondsByPart(), windowSeconds);
    const arrivals = await pictureArrivals({ display: av.display, width, height, durationMs: PICTURE_WATCH_MS, timeoutMs: PICTURE_WATCH_MS + 3000 }).catch(() => []);
    ffmpeg?.stdin!.end('q');
    await exited;
    console.log(JSON.stringify({ cpuCoresPerRecordedSecond: cpuSeconds / windowSeconds, cpuCoresByPart, cpuWindowSeconds: windowSeconds, peakPssBytes: usage.peakPssBytes, pictureTiming: pictureTiming(arrivals, PAGE_FPS) }));
  } finally {
    clearInterval(timer);
    await browser.close();
    await av.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await main();
    process.exit(0);
  } catch (err) {
    console.error(`reference recorder failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
