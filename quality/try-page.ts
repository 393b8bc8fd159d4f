/**
 * Real-pipeline sanity check (a script, not a test): plays the sync page in Chromium on Xvfb with sound into a
 * PulseAudio null sink, records the screen and the sink's monitor with ffmpeg the way the recorder does, and
 * analyses the recording.
 *
 *   node quality/try-page.ts [--seconds 20] [--width 1280 --height 720] [--fps 30] [--container mp4|webm]
 *                            [--cache-dir /tmp/quality-media] [--out /tmp/try-page.mp4] [--preset veryfast]
 *
 * Every process it starts (Xvfb, PulseAudio, Chromium, ffmpeg) is stopped before it exits, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext } from 'playwright-core';
import { analyseRecording, type QualityReport } from './analyse.ts';
import { ensureSyncMedia } from './sync-media.ts';
import { startSyncPageServer, type SyncStatus } from './sync-page.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    fps: { type: 'string', default: '30' },
    container: { type: 'string', default: 'mp4' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'quality-media') },
    out: { type: 'string', default: join(tmpdir(), 'try-page.mp4') },
    preset: { type: 'string', default: 'veryfast' },
  },
});
const seconds = Number(args.seconds);
const width = Number(args.width);
const height = Number(args.height);
const fps = Number(args.fps);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const cleanups: (() => Promise<unknown>)[] = [];

/** SIGTERM, then SIGKILL after 3 s; resolves once the child has exited. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function startXvfb(): Promise<string> {
  // -displayfd: Xvfb picks a free display and writes its number to fd 3 once it accepts connections.
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-nocursor'], {
    // stderr ignored: -displayfd probing prints "server already running" for each display in use.
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  cleanups.push(() => stop(xvfb));
  return new Promise((resolve, reject) => {
    let out = '';
    xvfb.stdio[3]!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(`:${m[1]}`);
    });
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
}

async function startPulse(dir: string): Promise<string> {
  const socket = join(dir, 'pulse.sock');
  const pulse = spawn(
    'pulseaudio',
    ['-n', '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--log-target=stderr',
      `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
      '--load=module-null-sink sink_name=recorder rate=48000 channels=2'],
    { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir } },
  );
  cleanups.push(() => stop(pulse));
  for (let i = 0; !existsSync(socket); i++) {
    if (pulse.exitCode !== null || i > 400) throw new Error('PulseAudio did not start');
    await sleep(25);
  }
  return `unix:${socket}`;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'try-page-'));
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));

  let t = Date.now();
  const media = await ensureSyncMedia({
    width, height, fps, durationSeconds: seconds + 30, cacheDir: args['cache-dir']!, container: args.container as 'mp4' | 'webm',
  });
  console.log(`media ${media} (${Date.now() - t} ms)`);
  const server = await startSyncPageServer({ mediaPath: media });
  cleanups.push(() => server.close());

  const display = await startXvfb();
  const pulseServer = await startPulse(work);
  console.log(`display ${display}, pulse ${pulseServer}`);

  const context: BrowserContext = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: false,
    viewport: null,
    ignoreDefaultArgs: ['--enable-automation'],
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--kiosk', '--window-position=0,0',
      `--window-size=${width},${height}`,
    ],
    env: { ...process.env, DISPLAY: display, PULSE_SERVER: pulseServer },
  });
  cleanups.push(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  t = Date.now();
  await page.goto(server.url, { waitUntil: 'load' });
  console.log(`page load ${Date.now() - t} ms`);

  const out = args.out!;
  const ffmpegArgs = [
    '-hide_banner', '-loglevel', 'warning', '-y',
    '-thread_queue_size', '512', '-f', 'x11grab', '-draw_mouse', '0', '-framerate', String(fps), '-video_size', `${width}x${height}`, '-i', `${display}.0+0,0`,
    '-thread_queue_size', '512', '-f', 'pulse', '-sample_rate', '48000', '-channels', '2', '-i', 'recorder.monitor',
    '-c:v', 'libx264', '-preset', args.preset!, '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', out,
  ];
  console.log(`ffmpeg ${ffmpegArgs.join(' ')}`);
  const ffmpeg = spawn('ffmpeg', ffmpegArgs, { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, PULSE_SERVER: pulseServer } });
  cleanups.push(() => stop(ffmpeg));
  const ffmpegExit = new Promise<number | null>((r) => ffmpeg.once('exit', (code) => r(code)));
  await sleep(seconds * 1000);
  const status = (await page.evaluate('window.__syncStatus()')) as SyncStatus;
  ffmpeg.stdin!.end('q');
  const code = await ffmpegExit;
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}`);

  // Tear down before analysing, so the analysis has the machine to itself.
  while (cleanups.length > 1) await cleanups.pop()!().catch(() => undefined);

  t = Date.now();
  const report = await analyseRecording(out, { fps });
  console.log(`analysis ${Date.now() - t} ms`);
  console.log('page status at stop:', JSON.stringify({ ...status, events: status.events.map((e) => `${e.type}@${e.atMs.toFixed(0)}ms/${e.currentTime.toFixed(3)}`) }));
  console.log(summary(report));
}

/** The report without the per-frame data, numbers rounded. */
function summary(r: QualityReport): string {
  const { frameSamples, pairList, flashes, beeps, offsetsMs, ...rest } = r;
  const round = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
  const shown = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
  return JSON.stringify({ ...shown, offsetsMs: offsetsMs.map(round) }, null, 1);
}

try {
  await main();
} finally {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
}
