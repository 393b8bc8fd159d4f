/**
 * `npm run bench`: the recorder's figures, measured on this machine.
 *
 * Each scenario records the sync test page (quality/: a <video> with a one-frame white flash and a beep at
 * each second, and a frame code that changes every frame) and analyses the file with ffmpeg:
 *  - ours: through the real local stack (API -> workflow -> recorder process -> S3), as a user would;
 *  - reference: the AWS Chime sample's capture settings (bench/reference-recorder.ts), same page, same run;
 *  - page alone: the same display, sound server and browser on the same page with no capture at all (the
 *    floor under any capture of it on this machine), for PAGE_SECONDS.
 * Ratios compare ours with the reference of the same resolution, measured minutes apart on the same machine.
 * "CPU above page" is a pipeline's CPU minus the page alone's: what capturing and encoding cost.
 * "Picture jitter" is how steadily the page's pictures reached the screen while a pipeline ran
 * (landing-probe.ts pictureTiming): the page alone shows how steady the browser is on this machine.
 *
 * And the Lambda functions (bench/lambda-bundles.ts): each bundle's minified size and its cold init time in
 * a fresh Node process.
 *
 *   npm run bench -- [--only recorder|lambda] [--seconds 60] [--long-seconds 600] [--resolutions 720,1080]
 *                    [--lambda-runs 5] [--out bench/results/latest.json]
 *
 * --long-seconds 0 skips the long 720p recording (drift, and stop-to-upload after a long recording).
 * --only runs one part; its JSON then defaults to bench/results/latest-<part>.json.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { RecordingApiClient } from '../local/api-client.ts';
import { parseFlagsOrExit } from '../local/cli-args.ts';
import { startLocalStack } from '../local/local-stack.ts';
import { analyseRecording, type QualityReport } from '../quality/analyse.ts';
import { ensureSyncMedia } from '../quality/sync-media.ts';
import { startSyncPageServer } from '../quality/sync-page.ts';
import { LAMBDA_TARGETS, lambdaTable, measureLambdaBundles, type LambdaFigure } from './lambda-bundles.ts';
import { costTable, formatCostTable, inputFromScenarios } from './cost.ts';
import { REFERENCE_SETTINGS } from './reference-recorder.ts';
import { readCpuTicks, stealPercent } from './cpu-steal.ts';
import { poolPictureTiming, type PictureTiming } from '../recorder-image/src/landing-probe.ts';
import { PROCESS_PARTS, type ProcessPart } from '../recorder-image/src/process-cpu.ts';

const run = promisify(execFile);
const USAGE =
  'Usage: npm run bench -- [--only recorder|lambda] [--seconds 60] [--long-seconds 600] [--resolutions 720,1080] [--lambda-runs 5] [--out bench/results/latest.json] [--keep-media]';
const PARTS = ['recorder', 'lambda'] as const;
const FPS = 30;
const SIZES: Record<string, { width: number; height: number }> = { '720': { width: 1280, height: 720 }, '1080': { width: 1920, height: 1080 } };
/** How long the page alone is measured (at most --seconds): CPU per second is steady within a few seconds. */
const PAGE_SECONDS = 20;

export const OUR_SETTINGS = {
  capture: 'x11grab once per two-tick slot of Chromium\'s frame clock (-framerate 1000000/33332; 16.666 ms tick), its timer started by a gate input at the chosen place in the slot, more than a tick after the page\'s pictures; the place follows where the page\'s pictures reach the screen (watched every 0.5 s until the page moves, then after 10 s, and every minute while its pictures are settled or every 20 s while not, and 5 s after the last watch at the soonest once the encoded frames show 3 repeated grabs more than the page\'s own; moved by an encoder handover) + pulse, on one wall-clock timeline (-copyts), no frame-rate conversion (passthrough, ms timestamps); sound stamped by sample count, placed by PulseAudio\'s stamps averaged over up to 30 s',
  video: 'libx264 veryfast, tune zerolatency, CRF 23, maxrate 3000k, GOP 60',
  audio: 'AAC 128k',
  container: 'fragmented MP4, streamed to S3 (5 MiB multipart parts + pending segments every 3 s)',
  scheduling: "SCHED_FIFO priority 1 for Xvfb, Chromium's display and page compositor threads and x11grab's thread (REALTIME_THREADS=on; where permitted), the encoder at normal priority",
};

interface Scenario {
  name: string;
  pipeline: 'ours' | 'reference' | 'page';
  resolution: string;
  seconds: number;
  cpuCores: number;
  /** The same CPU split by process (process-cpu.ts processPart): Xvfb, sound, browser, renderer, ffmpeg, ... */
  cpuCoresByPart?: Partial<Record<ProcessPart, number>>;
  /** Ours: the threads that ran in real time, per process part, or why none could (realtime-threads.ts). */
  realtimeThreads?: unknown;
  peakPssMiB: number;
  /** CPU time the hypervisor took from this machine while the scenario ran, % of all its CPU time (cpu-steal.ts). */
  stealPct?: number;
  startupMs?: number;
  stopToLastByteMs?: number;
  stopToUploadedMs?: number;
  /** Where the stop -> last byte time went (the recorder's 'stop phases' log line). */
  stopPhases?: StopPhases;
  startupParts?: ReturnType<typeof startupParts>;
  /**
   * How steadily the page's pictures reached the screen while this pipeline ran (landing-probe.ts
   * pictureTiming): ours from the recorder's watches, the others from a watch after the measured window.
   */
  pictureTiming?: PictureTiming;
  /** Undefined for the page alone (nothing recorded). */
  quality?: Pick<QualityReport, 'avOffsetMeanMs' | 'avOffsetStdMs' | 'avDriftMs' | 'repeatedPct' | 'skippedPct' | 'unreadableFrames' | 'analysedFrames' | 'pairs' | 'missedFlashes' | 'durationSeconds'> & {
    offsetTimeline: { windowSeconds: number; meanOffsetMs: (number | null)[] };
  };
}

function pickQuality(r: QualityReport): NonNullable<Scenario['quality']> {
  const { avOffsetMeanMs, avOffsetStdMs, avDriftMs, repeatedPct, skippedPct, unreadableFrames, analysedFrames, pairs, missedFlashes, durationSeconds } = r;
  return { avOffsetMeanMs, avOffsetStdMs, avDriftMs, repeatedPct, skippedPct, unreadableFrames, analysedFrames, pairs, missedFlashes, durationSeconds, offsetTimeline: offsetTimeline(r) };
}

/** Mean A/V offset per window of the recording (a minute, or 10 s for recordings under 3 minutes): where drift happens. */
function offsetTimeline(r: QualityReport): { windowSeconds: number; meanOffsetMs: (number | null)[] } {
  const pairs = r.pairList;
  const windowSeconds = r.durationSeconds >= 180 ? 60 : 10;
  if (!pairs.length) return { windowSeconds, meanOffsetMs: [] };
  const start = pairs[0]!.flashTime;
  const sums: { total: number; n: number }[] = [];
  for (const p of pairs) {
    const w = Math.floor((p.flashTime - start) / windowSeconds);
    sums[w] ??= { total: 0, n: 0 };
    sums[w]!.total += p.offsetMs;
    sums[w]!.n++;
  }
  return { windowSeconds, meanOffsetMs: Array.from(sums, (s) => (s ? Math.round((s.total / s.n) * 10) / 10 : null)) };
}

async function recordOurs(resolution: string, pageUrl: string, seconds: number, workDir: string, keep: { dir: string; media: boolean }): Promise<Scenario> {
  const { width, height } = SIZES[resolution]!;
  const dataDir = mkdtempSync(join(workDir, 'stack-'));
  const stack = await startLocalStack({ dataDir, port: 0, allowedHosts: [new URL(pageUrl).host], recorderEnv: { VIDEO_WIDTH: String(width), VIDEO_HEIGHT: String(height), VIDEO_FPS: String(FPS) } });
  try {
    const api = new RecordingApiClient(stack.url, stack.apiKey);
    const created = await api.create(pageUrl, `bench-${resolution}-${seconds}`);
    if (created.status !== 201) throw new Error(`POST answered ${created.status}: ${JSON.stringify(created.body)}`);
    const id = created.body.id;
    // Polled every 200 ms: every 20 ms, the API's reads cost the local stack ~0.3 cores while the recorder
    // started (measured: 0.9-1.1 s of CPU over a 2.5 s start, against 0.33 s), and the recorder measures its
    // start-up itself.
    const live = await api.waitFor(id, ['RECORDING'], 60_000, 200);
    if (live.status !== 'RECORDING') throw new Error(`${id} ended ${live.status}: ${JSON.stringify(live.error)}`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const stopAt = Date.now();
    const stopped = await api.stop(id);
    if (stopped.status !== 202) throw new Error(`stop answered ${stopped.status}`);
    const done = await api.waitFor(id, ['UPLOADED', 'ERRORED'], 180_000, 20);
    const stopToUploadedMs = Date.now() - stopAt;
    if (done.status !== 'UPLOADED') throw new Error(`${id} ended ${done.status}: ${JSON.stringify(done.error)}`);
    const m = (await stack.repository.find(id))!.metrics!;
    const file = join(workDir, `ours-${resolution}-${seconds}.mp4`);
    const links = await api.download(id);
    writeFileSync(file, Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer()));
    const quality = await analyseRecording(file, { fps: FPS });
    // The recorder's log (and with --keep-media, the file) stay next to the JSON, for looking into a figure.
    const logFile = join(dataDir, 'logs', `${id}.log`);
    const log = logLines(logFile);
    mkdirSync(keep.dir, { recursive: true });
    copyFileSync(logFile, join(keep.dir, `ours-${resolution}-${seconds}.recorder.log`));
    if (keep.media) copyFileSync(file, join(keep.dir, `ours-${resolution}-${seconds}.mp4`));
    return {
      startupParts: startupParts(log),
      stopPhases: stopPhases(log),
      pictureTiming: watchedPictureTiming(log),
      name: `ours ${resolution}p30, ${seconds} s`,
      pipeline: 'ours',
      resolution,
      seconds,
      cpuCores: m.cpuCoresPerRecordedSecond!,
      cpuCoresByPart: log.find((l) => l.message === 'cpu by process')?.cores as Scenario['cpuCoresByPart'],
      realtimeThreads: log.find((l) => l.message === 'cpu by process')?.realtimeThreads,
      peakPssMiB: Math.round(m.peakPssBytes! / 2 ** 20),
      startupMs: m.startupMs,
      stopToLastByteMs: m.stopToUploadedMs,
      stopToUploadedMs,
      quality: pickQuality(quality),
    };
  } finally {
    await stack.stop();
  }
}

/**
 * Where the start-up time goes, from the recorder's log: the browser's start (launch and frame clock, from the
 * process start), and the encoder's inputs opening (from the encoder's spawn).
 */
function startupParts(lines: Record<string, unknown>[]): { browserStartedMs?: number; inputsOpenAfterMs?: number; frameClock: boolean; steps?: Record<string, number> } {
  const browser = lines.find((l) => l.message === 'browser started');
  const recording = lines.find((l) => l.message === 'recording');
  return {
    browserStartedMs: browser?.ms as number | undefined,
    inputsOpenAfterMs: recording?.inputsOpenAfterMs as number | undefined,
    frameClock: browser !== undefined && browser.frameIntervalMs !== undefined,
    // ms after the process start: the run began (modules loaded), the recording read, the display ready, the browser launched, its frame clock measured, the encoder spawned.
    steps: recording?.startup as Record<string, number> | undefined,
  };
}

interface StopPhases {
  /** The UPLOADING status report. */
  reportMs: number;
  /** The encoder's drain up to the stop instant, and its finish. */
  encoderMs: number;
  /** The last part's upload and the CompleteMultipartUpload (completeMs of it). */
  uploadMs: number;
  completeMs?: number;
  lastPartBytes: number;
  fileBytes: number;
}

/** The recorder's 'stop phases' log line: where the time from the stop to the last byte went. */
function stopPhases(lines: Record<string, unknown>[]): StopPhases | undefined {
  const line = lines.find((l) => l.message === 'stop phases');
  if (!line) return undefined;
  const { reportMs, encoderMs, uploadMs, completeMs, lastPartBytes, fileBytes } = line as unknown as StopPhases;
  return { reportMs, encoderMs, uploadMs, completeMs, lastPartBytes, fileBytes };
}

/** The recorder's log, one object per JSON line. */
function logLines(logFile: string): Record<string, unknown>[] {
  return readFileSync(logFile, 'utf8').split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** The picture timing of all the recorder's watches of the page ('pictures reach the screen'), pooled. */
function watchedPictureTiming(lines: Record<string, unknown>[]): PictureTiming | undefined {
  const timings = lines.flatMap((l) => (l.message === 'pictures reach the screen' && l.timing ? [l.timing as PictureTiming] : []));
  return poolPictureTiming(timings);
}

async function recordReference(resolution: string, pageUrl: string, seconds: number, workDir: string): Promise<Scenario> {
  const { width, height } = SIZES[resolution]!;
  const file = join(workDir, `reference-${resolution}.mp4`);
  const { stdout } = await run('node', ['bench/reference-recorder.ts', '--url', pageUrl, '--seconds', String(seconds), '--out', file, '--width', String(width), '--height', String(height)], { maxBuffer: 1 << 20 });
  const figures = JSON.parse(stdout.trim().split('\n').pop()!);
  const quality = await analyseRecording(file, { fps: FPS });
  return {
    name: `reference ${resolution}p30, ${seconds} s`,
    pipeline: 'reference',
    resolution,
    seconds,
    cpuCores: figures.cpuCoresPerRecordedSecond,
    cpuCoresByPart: figures.cpuCoresByPart,
    peakPssMiB: Math.round(figures.peakPssBytes / 2 ** 20),
    pictureTiming: figures.pictureTiming,
    quality: pickQuality(quality),
  };
}

/** The page alone: display, sound server and browser on the page, no capture (bench/reference-recorder.ts --no-capture). */
async function measurePage(resolution: string, pageUrl: string, seconds: number): Promise<Scenario> {
  const { width, height } = SIZES[resolution]!;
  const { stdout } = await run('node', ['bench/reference-recorder.ts', '--url', pageUrl, '--seconds', String(seconds), '--no-capture', '--width', String(width), '--height', String(height)], { maxBuffer: 1 << 20 });
  const figures = JSON.parse(stdout.trim().split('\n').pop()!);
  return {
    name: `page alone ${resolution}p30, ${seconds} s`,
    pipeline: 'page',
    resolution,
    seconds,
    cpuCores: figures.cpuCoresPerRecordedSecond,
    cpuCoresByPart: figures.cpuCoresByPart,
    peakPssMiB: Math.round(figures.peakPssBytes / 2 ** 20),
    pictureTiming: figures.pictureTiming,
  };
}

const f = (n: number | null | undefined, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));

/** Picture jitter and how many of the watched intervals were off the beat, e.g. `2.1 (0 of 58)`. */
const pictureCell = (t: PictureTiming | undefined) => (t ? `${f(t.jitterMs)} (${t.offBeat} of ${t.intervals})` : 'n/a');

/** The CPU split by process of each scenario, one column per part that any scenario used. */
function partsTable(rows: Scenario[]): string[] {
  const parts = PROCESS_PARTS.filter((p) => rows.some((r) => (r.cpuCoresByPart?.[p] ?? 0) > 0));
  return [
    `| scenario | ${parts.join(' | ')} |`,
    `|---|${parts.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.name} | ${parts.map((p) => (r.cpuCoresByPart ? f(r.cpuCoresByPart[p] ?? 0, 3) : 'n/a')).join(' | ')} |`),
  ];
}

async function main() {
  const flags = parseFlagsOrExit(
    process.argv.slice(2),
    { only: 'string', seconds: 'number', 'long-seconds': 'number', resolutions: 'string', 'lambda-runs': 'number', out: 'string', 'keep-media': 'boolean' },
    USAGE,
  );
  const only = flags.only === undefined ? undefined : String(flags.only);
  if (only !== undefined && !PARTS.includes(only as (typeof PARTS)[number])) throw new Error(`Unknown part '${only}': use ${PARTS.join(' or ')}.`);
  const runs = (part: (typeof PARTS)[number]) => only === undefined || only === part;
  const lambdaRuns = Math.max(1, Math.round(Number(flags['lambda-runs'] ?? 5)));
  const seconds = Number(flags.seconds ?? 60);
  const longSeconds = Number(flags['long-seconds'] ?? 600);
  const resolutions = String(flags.resolutions ?? '720,1080').split(',');
  for (const r of resolutions) if (!SIZES[r]) throw new Error(`Unknown resolution '${r}': use 720 and/or 1080.`);
  const out = resolve(String(flags.out ?? (only ? `bench/results/latest-${only}.json` : 'bench/results/latest.json')));
  const workDir = mkdtempSync(join(tmpdir(), 'mr-bench-'));
  const keep = { dir: dirname(out), media: flags['keep-media'] === true };
  const cacheDir = join(tmpdir(), 'quality-media');
  const scenarios: Scenario[] = [];
  /** Runs a scenario and keeps it, with the CPU steal while it ran. */
  const measure = async (work: () => Promise<Scenario>) => {
    const before = readCpuTicks();
    const scenario = await work();
    scenarios.push({ ...scenario, stealPct: stealPercent(before, readCpuTicks()) });
  };
  try {
    for (const resolution of runs('recorder') ? resolutions : []) {
      const { width, height } = SIZES[resolution]!;
      // 11 minutes covers the default runs (and is generated once, then cached).
      const mediaSeconds = Math.max(660, Math.max(seconds, resolution === '720' ? longSeconds : 0) + 60);
      process.stderr.write(`preparing ${resolution}p sync media (${mediaSeconds} s; cached after the first run)...\n`);
      const media = await ensureSyncMedia({ width, height, fps: FPS, durationSeconds: mediaSeconds, cacheDir });
      const page = await startSyncPageServer({ mediaPath: media });
      try {
        process.stderr.write(`ours ${resolution}p: ${seconds} s...\n`);
        await measure(() => recordOurs(resolution, page.url, seconds, workDir, keep));
        process.stderr.write(`reference ${resolution}p: ${seconds} s...\n`);
        await measure(() => recordReference(resolution, page.url, seconds, workDir));
        process.stderr.write(`page alone ${resolution}p: ${Math.min(seconds, PAGE_SECONDS)} s...\n`);
        await measure(() => measurePage(resolution, page.url, Math.min(seconds, PAGE_SECONDS)));
        if (resolution === '720' && longSeconds > 0) {
          process.stderr.write(`ours ${resolution}p: ${longSeconds} s...\n`);
          await measure(() => recordOurs(resolution, page.url, longSeconds, workDir, keep));
        }
      } finally {
        await page.close();
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  // The Lambda functions: bundle size and cold init (bench/lambda-bundles.ts).
  const lambda: LambdaFigure[] | undefined = runs('lambda') ? await measureLambdaBundles(lambdaRuns, (line) => process.stderr.write(`${line}\n`)) : undefined;

  const referenceOf = (s: Scenario) => scenarios.find((r) => r.pipeline === 'reference' && r.resolution === s.resolution);
  const pageOf = (s: Scenario) => scenarios.find((r) => r.pipeline === 'page' && r.resolution === s.resolution);
  const rows = scenarios.map((s) => {
    const ref = referenceOf(s);
    const page = pageOf(s);
    return {
      ...s,
      cpuRatioToReference: ref && s.pipeline === 'ours' ? s.cpuCores / ref.cpuCores : undefined,
      cpuAbovePageCores: page && s.pipeline !== 'page' ? s.cpuCores - page.cpuCores : undefined,
    };
  });
  const lines = [
    '| scenario | CPU cores | CPU / ref | CPU above page | peak PSS MiB | A/V offset mean (std) ms | drift ms | repeated % | skipped % | picture jitter ms (off beat) | start -> 1st frame ms | stop -> last byte ms | steal % |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${f(r.cpuCores, 3)} | ${f(r.cpuRatioToReference, 2)} | ${f(r.cpuAbovePageCores, 3)} | ${r.peakPssMiB} | ${f(r.quality?.avOffsetMeanMs)} (${f(r.quality?.avOffsetStdMs)}) | ${f(r.quality?.avDriftMs)} | ${f(r.quality?.repeatedPct, 2)} | ${f(r.quality?.skippedPct, 2)} | ${pictureCell(r.pictureTiming)} | ${f(r.startupMs, 0)} | ${f(r.stopToLastByteMs, 0)} | ${f(r.stealPct)} |`,
    ),
  ];
  const targets = {
    avOffsetAbsMeanMs: 20,
    avDriftMs: 10,
    repeatedOrSkippedPct: 1,
    cpuCores: { '720': 0.3, '1080': 0.6 },
    cpuRatioToReference: 1.0,
    peakPssMiB1080: 1024,
    startupMs: 3000,
    stopToLastByteMs: 3000,
  };
  // Cost per recording hour at 720p30, from the task size these figures need (bench/cost.ts).
  const costInput = inputFromScenarios(rows);
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cores: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    settings: { fps: FPS, seconds, longSeconds, resolutions, ours: OUR_SETTINGS, reference: REFERENCE_SETTINGS },
    targets,
    scenarios: rows,
    ...(lambda && { lambda: { targets: LAMBDA_TARGETS, initRuns: lambdaRuns, functions: lambda } }),
    ...(costInput && { cost: { targetPerHour: 0.05, input: costInput, ...costTable(costInput) } }),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (rows.length > 0) {
    console.log(`\nMeeting recorder bench on ${report.machine.cores} cores (${report.machine.cpuModel}); the sync page at 30 fps.`);
    console.log(`ours: ${Object.values(OUR_SETTINGS).join('; ')}`);
    console.log(`reference (AWS Chime sample settings): ${Object.values(REFERENCE_SETTINGS).join('; ')}\n`);
    console.log(lines.join('\n'));
    console.log(`\nCPU by process (cores, same window): the page is the browser process (with its display compositor) and the renderer; the capture is ffmpeg.\n`);
    console.log(partsTable(rows).join('\n'));
    const phased = rows.filter((r) => r.stopPhases);
    if (phased.length) {
      console.log('\nStop -> last byte, by phase (ms): status report + encoder drain and finish + upload (of it, CompleteMultipartUpload); last part and file size.\n');
      for (const r of phased) {
        const p = r.stopPhases!;
        console.log(`- ${r.name}: ${p.reportMs} + ${p.encoderMs} + ${p.uploadMs} (${f(p.completeMs, 0)}); ${f(p.lastPartBytes / 2 ** 20, 1)} of ${f(p.fileBytes / 2 ** 20, 1)} MiB`);
      }
    }
    console.log(`\nTargets: |offset| <= 20 ms, drift <= 10 ms, repeated/skipped <= 1 %, CPU <= 0.3 (720p) / 0.6 (1080p) and <= 1.0 x reference, PSS <= 1 GiB at 1080p, start -> first frame and stop -> last byte <= 3 s.`);
    console.log('Steal: CPU time the hypervisor took from this virtual machine while the scenario ran (/proc/stat), in % of all its CPU time: a stalled vCPU delays the page\'s pictures and the grabs alike.');
    console.log('Picture jitter: how far the intervals between the page\'s pictures on the screen were from one frame (RMS), and how many were off by more than a third of a frame. It is what the browser gives any capture: a picture that comes late is repeated and the next one skipped.');
  }
  if (lambda) {
    console.log(`\nLambda functions on ${report.machine.cores} cores (${report.machine.cpuModel}): minified bundle (index.js, no source map) and cold init in a fresh Node ${process.version} process (require of the bundle, median of ${lambdaRuns}).\n`);
    console.log(lambdaTable(lambda).join('\n'));
    console.log(`\nTargets: <= ${LAMBDA_TARGETS.bundleKiB} KiB per function, <= ${LAMBDA_TARGETS.initMs} ms init.`);
  }
  if (costInput) {
    console.log(`\nCost per recording hour at 720p30 (us-east-1 list prices), for the smallest Fargate size that holds the measured ${f(costInput.cpuCores, 3)} cores and ${costInput.peakPssMiB} MiB:\n`);
    console.log(formatCostTable(costTable(costInput)));
    console.log('\nTarget: under $0.05 per recording hour.');
  }
  console.log(`JSON: ${out}`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
}
