/**
 * Cost per recording hour, from what the recorder bench measured (bench/results/latest.json: CPU cores and peak
 * PSS of all recorder processes at 720p30) and public us-east-1 list prices. Picks the smallest Fargate size
 * that holds the measured load with headroom, then adds every per-recording charge of the service.
 *
 *   node bench/cost.ts [bench/results/latest.json]   (also part of `npm run bench`)
 *
 * Prints a markdown table (the README's "Cost per recording hour") and writes bench/results/cost.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FARGATE_CPU_UNITS, fargateMemoryOptionsMiB } from '../lib/fargate-sizes.ts';

/** us-east-1 list prices, Linux, checked 2026-11. Spot varies by hour and AZ; 70% off on-demand is its usual level. */
export const PRICES = {
  fargate: {
    x86_64: { vcpuHour: 0.04048, gbHour: 0.004445 },
    arm64: { vcpuHour: 0.03238, gbHour: 0.00356 },
    spotDiscount: 0.7,
  },
  publicIpv4Hour: 0.005,
  s3: { putPer1000: 0.005, gbMonth: 0.023 },
  dynamodb: { readPerMillion: 0.125, writePerMillion: 0.625 },
  stepFunctions: { per1000Transitions: 0.025 },
  lambda: { arm64GbSecond: 0.0000133334, perMillionRequests: 0.2 },
  cloudwatchLogs: { ingestGb: 0.5 },
} as const;

/** What one recording hour costs besides the task, from the recorder's and the service's own settings. */
export const PER_HOUR_USAGE = {
  /** recorder-image/src/media-uploader.ts: a pending segment every 3 s (1200 PUTs), 5 MiB parts at the bitrate. */
  segmentPuts: 3600 / 3,
  /** recorder-image/src/config.ts CONTROL_POLL_MS=500: the recorder reads its recording item twice a second. */
  controlReads: 3600 * 2,
  /** Status transitions, upload manifest updates (one per part), heartbeat-free (heartbeats are API calls to Step Functions). */
  itemWritesPerPart: 1,
  itemWritesFixed: 12,
  /** One execution: about ten state transitions. */
  stateTransitions: 10,
  /** API create/stop, the two workflow tasks, the publisher per status change, webhook deliveries: ~20 invocations of ~200 ms at 256 MB. */
  lambdaInvocations: 20,
  lambdaGbSeconds: 20 * 0.2 * 0.25,
  /** Recorder JSON logs, metrics (EMF) and the state machine's log: well under 1 MB an hour. */
  logGb: 0.001,
} as const;

export interface CostInput {
  /** CPU cores all recorder processes used, on average, at 720p30. */
  cpuCores: number;
  /** Peak PSS of all recorder processes, MiB. */
  peakPssMiB: number;
  /** Upper bound of the video + audio bitrate (the encoder's maxrate + audio), kbit/s. */
  mediaKbps: number;
  /** Days the bucket keeps a recording. */
  retentionDays: number;
}

export interface CostRow {
  option: string;
  task: string;
  fargate: number;
  other: number;
  total: number;
}

/** Smallest size with CPU at most 75% used on average and memory at least 1.5 times the peak PSS. */
export function pickTaskSize(input: CostInput): { vcpu: number; memoryGiB: number } {
  for (const cpu of FARGATE_CPU_UNITS) {
    const vcpu = cpu / 1024;
    if (input.cpuCores > vcpu * 0.75) continue;
    const memoryMiB = fargateMemoryOptionsMiB(cpu).find((mib) => mib >= input.peakPssMiB * 1.5);
    if (memoryMiB !== undefined) return { vcpu, memoryGiB: memoryMiB / 1024 };
  }
  throw new Error(`no Fargate size holds ${input.cpuCores} cores and ${input.peakPssMiB} MiB`);
}

/** Everything but the Fargate task, per recording hour. */
export function otherCostsPerHour(input: CostInput): Record<string, number> {
  const gbPerHour = (input.mediaKbps * 1000 * 3600) / 8 / 1e9;
  const parts = Math.ceil((gbPerHour * 1e9) / (5 * 1024 * 1024));
  const u = PER_HOUR_USAGE;
  return {
    'public IPv4 address': PRICES.publicIpv4Hour,
    'S3 PUTs (parts + pending segments)': ((parts + u.segmentPuts) / 1000) * PRICES.s3.putPer1000,
    [`S3 storage (${gbPerHour.toFixed(2)} GB for ${input.retentionDays} days)`]: gbPerHour * PRICES.s3.gbMonth * (input.retentionDays / 30.4),
    'DynamoDB (control reads, item writes)': (u.controlReads / 1e6) * PRICES.dynamodb.readPerMillion + ((u.itemWritesFixed + parts * u.itemWritesPerPart) / 1e6) * PRICES.dynamodb.writePerMillion,
    'Step Functions': (u.stateTransitions / 1000) * PRICES.stepFunctions.per1000Transitions,
    Lambda: u.lambdaGbSeconds * PRICES.lambda.arm64GbSecond + (u.lambdaInvocations / 1e6) * PRICES.lambda.perMillionRequests,
    'CloudWatch Logs': u.logGb * PRICES.cloudwatchLogs.ingestGb,
  };
}

export function costTable(input: CostInput): { size: { vcpu: number; memoryGiB: number }; other: Record<string, number>; rows: CostRow[] } {
  const size = pickTaskSize(input);
  const other = otherCostsPerHour(input);
  const otherTotal = Object.values(other).reduce((a, b) => a + b, 0);
  const task = `${size.vcpu} vCPU, ${size.memoryGiB} GB`;
  const fargate = (p: { vcpuHour: number; gbHour: number }, factor = 1) => (size.vcpu * p.vcpuHour + size.memoryGiB * p.gbHour) * factor;
  const rows: CostRow[] = [
    { option: 'arm64 (default)', task, fargate: fargate(PRICES.fargate.arm64), other: otherTotal, total: 0 },
    { option: 'x86_64', task, fargate: fargate(PRICES.fargate.x86_64), other: otherTotal, total: 0 },
    { option: 'x86_64 on Spot (useFargateSpot)', task, fargate: fargate(PRICES.fargate.x86_64, 1 - PRICES.fargate.spotDiscount), other: otherTotal, total: 0 },
  ].map((row) => ({ ...row, total: row.fargate + row.other }));
  return { size, other, rows };
}

export function formatCostTable(result: ReturnType<typeof costTable>): string {
  const usd = (n: number) => `$${n.toFixed(4)}`;
  const lines = [
    '| Option | Task | Fargate | Everything else | Total per recording hour |',
    '|---|---|---:|---:|---:|',
    ...result.rows.map((r) => `| ${r.option} | ${r.task} | ${usd(r.fargate)} | ${usd(r.other)} | **${usd(r.total)}** |`),
    '',
    '| Everything else, per recording hour | |',
    '|---|---:|',
    ...Object.entries(result.other).map(([name, value]) => `| ${name} | ${usd(value)} |`),
  ];
  return lines.join('\n');
}

type BenchScenario = { pipeline: string; resolution: number | string; cpuCores: number; peakPssMiB: number };

/** The 720p30 figures of our pipeline from the bench's scenarios, or undefined when it did not record 720p. */
export function inputFromScenarios(scenarios: readonly BenchScenario[], retentionDays = 7): CostInput | undefined {
  const ours = scenarios.filter((s) => s.pipeline === 'ours' && String(s.resolution) === '720');
  if (ours.length === 0) return undefined;
  return {
    cpuCores: Math.max(...ours.map((s) => s.cpuCores)),
    peakPssMiB: Math.max(...ours.map((s) => s.peakPssMiB)),
    // recorder-image/src/config.ts VIDEO_MAX_BITRATE_KBPS (3000) + AAC 128k: an upper bound (CRF 23 is usually below).
    mediaKbps: 3000 + 128,
    retentionDays,
  };
}

/** The 720p30 figures of our pipeline from a bench result file. */
export function inputFromBench(file: string, retentionDays = 7): CostInput & { measuredAt: string } {
  const result = JSON.parse(readFileSync(file, 'utf8')) as { generatedAt: string; scenarios: BenchScenario[] };
  const input = inputFromScenarios(result.scenarios ?? [], retentionDays);
  if (!input) throw new Error(`${file} has no 720p scenario of our pipeline; run npm run bench first`);
  return { ...input, measuredAt: result.generatedAt };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = process.argv[2] ?? join(here, 'results', 'latest.json');
  const input = inputFromBench(file);
  const result = costTable(input);
  console.log(`Cost per recording hour at 720p30 (us-east-1 list prices; bench of ${input.measuredAt}: ${input.cpuCores.toFixed(3)} cores, ${input.peakPssMiB} MiB peak PSS)\n`);
  console.log(formatCostTable(result));
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'cost.json'), JSON.stringify({ input, prices: PRICES, usage: PER_HOUR_USAGE, ...result }, null, 2));
}
