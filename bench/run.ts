/**
 * `npm run bench`: records the demo meeting through the real local stack and reports the figures the
 * issues name. Prints a table and writes the same figures as JSON (bench/results/latest.json), with the
 * machine's core count and the settings used.
 *
 *   npm run bench -- [--seconds 30] [--runs 2] [--out bench/results/latest.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { RecordingApiClient } from '../local/api-client.ts';
import { parseFlagsOrExit } from '../local/cli-args.ts';
import { startLocalStack } from '../local/local-stack.ts';

const USAGE = 'Usage: npm run bench -- [--seconds 30] [--runs 2] [--out bench/results/latest.json]';

interface RunFigures {
  postToRecordingMs: number;
  recorderStartToFirstFrameMs: number;
  stopToUploadedMs: number;
  stopToLastByteMs: number;
  requestedSeconds: number;
  fileSeconds: number;
  fileSizeBytes: number;
  cpuCoresPerRecordedSecond: number;
  duplicatedFramesPct: number;
  droppedFramesPct: number;
}

async function main() {
  const flags = parseFlagsOrExit(process.argv.slice(2), { seconds: 'number', runs: 'number', out: 'string' }, USAGE);
  const seconds = Number(flags.seconds ?? 30);
  const runs = Math.max(1, Math.floor(Number(flags.runs ?? 2)));
  const out = resolve(String(flags.out ?? 'bench/results/latest.json'));
  const settings = { width: 1280, height: 720, fps: 30, x264Preset: 'veryfast', capture: 'x11grab + pulse, fragmented MP4 streamed to S3 (multipart)' };

  const dataDir = mkdtempSync(join(tmpdir(), 'mr-bench-'));
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    recorderEnv: { VIDEO_WIDTH: String(settings.width), VIDEO_HEIGHT: String(settings.height), VIDEO_FPS: String(settings.fps), X264_PRESET: settings.x264Preset },
  });
  const api = new RecordingApiClient(stack.url);
  const results: RunFigures[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`run ${i + 1}/${runs}: recording the demo meeting for ${seconds} s...\n`);
      const postedAt = Date.now();
      const created = await api.create(stack.demoUrl, `bench-${i}`);
      if (created.status !== 201) throw new Error(`POST answered ${created.status}`);
      const id = created.body.id;
      const live = await api.waitFor(id, ['RECORDING'], 60_000, 20);
      if (live.status !== 'RECORDING') throw new Error(`${id} ended ${live.status}: ${JSON.stringify(live.error)}`);
      const postToRecordingMs = Date.now() - postedAt;
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const stopAt = Date.now();
      const stopped = await api.stop(id);
      if (stopped.status !== 202) throw new Error(`stop answered ${stopped.status}`);
      const done = await api.waitFor(id, ['UPLOADED'], 60_000, 20);
      const stopToUploadedMs = Date.now() - stopAt;
      if (done.status !== 'UPLOADED') throw new Error(`${id} ended ${done.status}: ${JSON.stringify(done.error)}`);
      const item = await stack.repository.find(id);
      const m = item?.metrics ?? {};
      const frames = m.framesEncoded || 1;
      results.push({
        postToRecordingMs,
        recorderStartToFirstFrameMs: Math.round(m.startupMs),
        stopToUploadedMs,
        stopToLastByteMs: m.stopToUploadedMs,
        requestedSeconds: (stopAt - Date.parse(done.startedAt!)) / 1000,
        fileSeconds: done.files![0].durationSeconds,
        fileSizeBytes: done.files![0].sizeBytes,
        cpuCoresPerRecordedSecond: m.cpuCoresPerRecordedSecond,
        duplicatedFramesPct: (100 * m.framesDuplicated) / frames,
        droppedFramesPct: (100 * m.framesDropped) / frames,
      });
    }
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const rows: [string, keyof RunFigures, string, number?][] = [
    ['POST -> RECORDING (client)', 'postToRecordingMs', 'ms'],
    ['recorder start -> first frame', 'recorderStartToFirstFrameMs', 'ms', 3000],
    ['stop -> UPLOADED (client)', 'stopToUploadedMs', 'ms'],
    ['stop seen -> last byte in S3', 'stopToLastByteMs', 'ms', 3000],
    ['recorded (start -> stop request)', 'requestedSeconds', 's'],
    ['file duration', 'fileSeconds', 's'],
    ['CPU, all recorder processes', 'cpuCoresPerRecordedSecond', 'cores', 0.3],
    ['duplicated frames (ffmpeg)', 'duplicatedFramesPct', '%', 1],
    ['dropped frames (ffmpeg)', 'droppedFramesPct', '%', 1],
  ];
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(3));
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const summary = Object.fromEntries(rows.map(([, key]) => [key, { median: median(results.map((r) => r[key])), max: Math.max(...results.map((r) => r[key])) }]));

  const header = `| figure | unit | median | max | target |`;
  const lines = [header, '|---|---|---|---|---|'];
  for (const [label, key, unit, target] of rows) {
    const s = summary[key];
    lines.push(`| ${label} | ${unit} | ${fmt(s.median)} | ${fmt(s.max)} | ${target === undefined ? '' : `<= ${target}`} |`);
  }
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cores: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    settings: { ...settings, recordSeconds: seconds, runs },
    summary,
    runs: results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nMeeting recorder bench: ${runs} run(s) x ${seconds} s of the demo meeting at ${settings.width}x${settings.height}@${settings.fps}, x264 ${settings.x264Preset}, on ${report.machine.cores} cores\n`);
  console.log(lines.join('\n'));
  console.log(`\nJSON: ${out}`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
}
