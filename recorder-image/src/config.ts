/**
 * The recorder container's environment contract. The task definition sets the static part; the workflow's
 * ContainerOverrides add RECORDING_ID and TASK_TOKEN. Local mode spawns the program with the same variables.
 */
import { tmpdir } from 'node:os';
import { ENV, intEnv, requireEnv } from '#core/config.ts';
import { urlPolicyFromEnv, type UrlPolicy } from '#core/url-policy.ts';

export interface RecorderConfig {
  recordingId: string;
  /** Step Functions task token; absent when the recorder runs standalone (bench, manual runs). */
  taskToken?: string;
  tableName: string;
  bucketName: string;
  width: number;
  height: number;
  fps: number;
  chromiumPath: string;
  pageLoadTimeoutMs: number;
  controlPollMs: number;
  heartbeatIntervalMs: number;
  /** Scratch space for the browser profile and sockets; removed at exit. */
  workRoot: string;
  /** x264 preset; veryfast keeps one 720p30 recording well under one core. */
  x264Preset: string;
  videoMaxBitrateKbps: number;
  /** Where after the browser's tick the grab span starts (ms), fixed; unset: measured on the page while recording (landing-probe.ts). */
  grabPhaseMs?: number;
  /** A meeting page that does not answer for this long counts as hung and is reloaded. */
  pageHangTimeoutMs: number;
  /** Most encoded bytes kept in memory while S3 is unreachable. */
  uploadBufferMaxBytes: number;
  /** How often the recorder writes its metrics (an EMF log line; see metrics.ts). */
  metricsIntervalMs: number;
  /** Chromium --host-resolver-rules (e.g. "MAP *.invalid ~NOTFOUND"); unset on AWS. */
  hostResolverRules?: string;
  /** What the page may reach: ALLOWED_HOSTS opens named hosts; everything else must be public. */
  urlPolicy: UrlPolicy;
  /** Real-time scheduling for the threads that draw and grab the pictures (realtime-threads.ts). */
  realtimeThreads: boolean;
}

export function loadRecorderConfig(env: NodeJS.ProcessEnv = process.env): RecorderConfig {
  return {
    recordingId: requireEnv('RECORDING_ID', env),
    taskToken: env.TASK_TOKEN || undefined,
    tableName: requireEnv(ENV.tableName, env),
    bucketName: requireEnv(ENV.bucketName, env),
    width: intEnv('VIDEO_WIDTH', 1280, env),
    height: intEnv('VIDEO_HEIGHT', 720, env),
    fps: intEnv('VIDEO_FPS', 30, env),
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    pageLoadTimeoutMs: intEnv('PAGE_LOAD_TIMEOUT_MS', 20_000, env),
    controlPollMs: intEnv('CONTROL_POLL_MS', 500, env),
    heartbeatIntervalMs: intEnv('HEARTBEAT_INTERVAL_MS', 10_000, env),
    workRoot: env.RECORDER_WORK_DIR || tmpdir(),
    x264Preset: env.X264_PRESET || 'veryfast',
    videoMaxBitrateKbps: intEnv('VIDEO_MAX_BITRATE_KBPS', 3000, env),
    grabPhaseMs: optionalMsEnv('GRAB_PHASE_MS', env),
    pageHangTimeoutMs: intEnv('PAGE_HANG_TIMEOUT_MS', 10_000, env),
    metricsIntervalMs: intEnv('METRICS_INTERVAL_MS', 60_000, env),
    hostResolverRules: env.CHROMIUM_HOST_RESOLVER_RULES || undefined,
    urlPolicy: urlPolicyFromEnv(env),
    uploadBufferMaxBytes: intEnv('UPLOAD_BUFFER_MAX_BYTES', 256 * 1024 * 1024, env),
    realtimeThreads: onOffEnv('REALTIME_THREADS', true, env),
  };
}

/** `on` or `off`; anything else is refused. */
function onOffEnv(name: string, fallback: boolean, env: NodeJS.ProcessEnv): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on' || raw === 'off') return raw === 'on';
  throw new Error(`${name} must be 'on' or 'off', not '${raw}'.`);
}

/** An optional duration in ms (fractions allowed); a value that is not a number from 0 to 1000 is refused. */
function optionalMsEnv(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1000) throw new Error(`${name} must be a number of milliseconds from 0 to 1000, not '${raw}'.`);
  return value;
}
