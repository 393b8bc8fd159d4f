/**
 * ECS RunTask stand-in: starts the recorder program as a local process with the container's environment
 * contract (the task definition's variables plus the workflow's ContainerOverrides), as Fargate would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORDER_CONTAINER_NAME } from '../workflow/recording-workflow.ts';
import type { CallbackLauncher } from './local-step-functions.ts';

export const RECORDER_ENTRY = fileURLToPath(new URL('../recorder-image/src/main.ts', import.meta.url));

/**
 * Node's compile cache for the recorder processes (start-up time): after the first recording, the
 * recorder's modules load ~0.03–0.09 s and the browser driver ~0.05–0.09 s sooner on this machine.
 */
const RECORDER_COMPILE_CACHE = join(tmpdir(), 'meeting-recorder-compile-cache');

interface RunTaskParameters {
  Overrides?: { ContainerOverrides?: { Name: string; Environment?: { Name: string; Value: string }[] }[] };
}

export interface LocalRecorderTasks {
  launch: CallbackLauncher;
  /** Running recorder processes by recording id (tests use it to inject faults). */
  readonly running: Map<string, ChildProcess>;
  /** SIGTERM to every recorder (like ECS StopTask) and wait for them to finish. */
  stopAll(graceMs?: number): Promise<void>;
}

export function localRecorderTasks(opts: { containerEnv: Record<string, string>; logDir: string }): LocalRecorderTasks {
  mkdirSync(opts.logDir, { recursive: true });
  const running = new Map<string, ChildProcess>();

  const launch: CallbackLauncher = async (input: RunTaskParameters) => {
    const override = input.Overrides?.ContainerOverrides?.find((o) => o.Name === RECORDER_CONTAINER_NAME);
    const overrideEnv = Object.fromEntries((override?.Environment ?? []).map((e) => [e.Name, e.Value]));
    const recordingId = overrideEnv.RECORDING_ID ?? 'unknown';
    const log = createWriteStream(join(opts.logDir, `${recordingId}.log`), { flags: 'a' });
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', RECORDER_ENTRY], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TMPDIR: process.env.TMPDIR ?? '/tmp', NODE_COMPILE_CACHE: RECORDER_COMPILE_CACHE, ...opts.containerEnv, ...overrideEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: when the recorder dies, the group goes with it, as a Fargate task's processes do.
      detached: true,
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    running.set(recordingId, child);
    child.once('exit', (code, signal) => {
      running.delete(recordingId);
      try {
        process.kill(-child.pid!, 'SIGKILL'); // whatever it left behind (Chromium, ffmpeg, Xvfb, PulseAudio)
      } catch {
        // the group is already gone
      }
      log.end(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', message: 'recorder process exited', code, signal })}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(Object.assign(new Error(`RunTask failed: ${err.message}`), { name: 'ECS.AmazonECSException' })));
    });
  };

  return {
    launch,
    running,
    async stopAll(graceMs = 120_000) {
      await Promise.all(
        [...running.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
