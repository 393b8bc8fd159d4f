/**
 * ECS RunTask stand-in: starts the recorder program as a local process with the container's environment
 * contract (the task definition's variables plus the workflow's ContainerOverrides), as Fargate would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
  /** SIGTERM to every recorder (like ECS StopTask) and wait for them to finish and their temp dirs to go. */
  stopAll(graceMs?: number): Promise<void>;
}

/** How long the processes of an exited task may take to go before its temp dir is removed anyway. */
const TASK_END_TIMEOUT_MS = 10_000;

export function localRecorderTasks(opts: { containerEnv: Record<string, string>; logDir: string }): LocalRecorderTasks {
  mkdirSync(opts.logDir, { recursive: true });
  const running = new Map<string, ChildProcess>();
  const cleanups = new Set<Promise<void>>();

  const launch: CallbackLauncher = async (input: RunTaskParameters) => {
    const override = input.Overrides?.ContainerOverrides?.find((o) => o.Name === RECORDER_CONTAINER_NAME);
    const overrideEnv = Object.fromEntries((override?.Environment ?? []).map((e) => [e.Name, e.Value]));
    const recordingId = overrideEnv.RECORDING_ID ?? 'unknown';
    const log = createWriteStream(join(opts.logDir, `${recordingId}.log`), { flags: 'a' });
    // The task's own temp dir, as a container's: the recorder's work dir (config.workRoot is os.tmpdir()),
    // Chromium's and Playwright's temp files. A killed recorder cannot remove them; it is removed at exit.
    // A short name: the Pulse socket in the work dir must stay within the 107 bytes of a socket path.
    const taskTmp = mkdtempSync(join(tmpdir(), 'mr-task-'));
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', RECORDER_ENTRY], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_COMPILE_CACHE: RECORDER_COMPILE_CACHE, ...opts.containerEnv, ...overrideEnv, TMPDIR: taskTmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: when the recorder dies, the group goes with it, as a Fargate task's processes do.
      detached: true,
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    running.set(recordingId, child);
    let ended = false;
    const endTask = () => {
      if (ended) return;
      ended = true;
      const cleanup = removeTaskTmp(taskTmp)
        .catch((err) => console.error(`Could not remove ${taskTmp}: ${(err as Error).message}`))
        .finally(() => cleanups.delete(cleanup));
      cleanups.add(cleanup);
    };
    child.once('exit', (code, signal) => {
      running.delete(recordingId);
      try {
        process.kill(-child.pid!, 'SIGKILL'); // whatever it left behind (ffmpeg, Xvfb, PulseAudio)
      } catch {
        // the group is already gone
      }
      log.end(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', message: 'recorder process exited', code, signal })}\n`);
      endTask();
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => {
        if (child.pid === undefined) {
          running.delete(recordingId);
          endTask();
        }
        reject(Object.assign(new Error(`RunTask failed: ${err.message}`), { name: 'ECS.AmazonECSException' }));
      });
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
      await Promise.all(cleanups);
    },
  };
}

/**
 * Ends what is left of an exited task and removes its temp dir. Chromium runs in a session of its own
 * (Playwright starts it detached), outside the recorder's process group: the task's processes are found by
 * their TMPDIR, killed, and waited for, so that none writes into the dir while it is removed.
 */
async function removeTaskTmp(dir: string): Promise<void> {
  for (const deadline = Date.now() + TASK_END_TIMEOUT_MS; Date.now() < deadline; await sleep(50)) {
    const left = processesWithTmpdir(dir);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
}

/** Live processes started with TMPDIR=`dir` (Linux /proc; none where there is no /proc). */
export function processesWithTmpdir(dir: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const entry = `TMPDIR=${dir}`;
  return pids
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
      } catch {
        return false; // exited, or another user's
      }
    })
    .map(Number);
}
