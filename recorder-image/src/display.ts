/**
 * The virtual display (Xvfb) and audio server (PulseAudio with a null sink) one recording captures.
 * Each recording gets its own display number and its own Pulse socket, so recordings on one host never mix.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RecorderError } from './recorder-error.ts';
import { sleep, tail, terminate } from './child-process.ts';

export interface AvEnvironment {
  /** X display, e.g. ":3". */
  display: string;
  /** Value for PULSE_SERVER. */
  pulseServer: string;
  /** PulseAudio source that carries everything the page plays. */
  audioSource: string;
  stop(): Promise<void>;
}

const SINK = 'recorder';

export async function startAvEnvironment(opts: { width: number; height: number; workDir: string; startTimeoutMs?: number }): Promise<AvEnvironment> {
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const socket = join(opts.workDir, 'pulse.sock');
  // The display and the sound server do not depend on each other: started side by side (start-up time).
  const [display, sound] = await Promise.allSettled([
    startXvfb(opts.width, opts.height, timeoutMs),
    startPulse(socket, opts.workDir, timeoutMs).then(async (pulse) => {
      try {
        return { pulse, keeper: await keepSinkAwake(`unix:${socket}`, timeoutMs) };
      } catch (err) {
        await terminate(pulse);
        throw err;
      }
    }),
  ]);
  if (display.status === 'rejected' || sound.status === 'rejected') {
    await Promise.all([
      display.status === 'fulfilled' && terminate(display.value.process),
      sound.status === 'fulfilled' && Promise.all([terminate(sound.value.keeper), terminate(sound.value.pulse)]),
    ]);
    throw display.status === 'rejected' ? display.reason : (sound as PromiseRejectedResult).reason;
  }
  const xvfb = display.value;
  const { pulse, keeper } = sound.value;
  return {
    display: xvfb.display,
    pulseServer: `unix:${socket}`,
    audioSource: `${SINK}.monitor`,
    async stop() {
      await Promise.all([terminate(keeper), terminate(pulse), terminate(xvfb.process)]);
    },
  };
}

async function startXvfb(width: number, height: number, timeoutMs: number): Promise<{ display: string; process: ChildProcess }> {
  // -displayfd: Xvfb picks a free display number and writes it to fd 3 once it accepts connections.
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset', '-nocursor'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const stderr = tail();
  child.stderr?.on('data', (d) => stderr.push(d));
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new RecorderError('display_failed', `Xvfb did not start within ${timeoutMs} ms: ${stderr.text}`)), timeoutMs);
    fd3.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /^(\d+)\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(`:${match[1]}`);
      }
    });
    rejectOnEarlyEnd(child, 'Xvfb', stderr, timer, reject);
  });
  return { display, process: child };
}

/**
 * Keeps the null sink on short blocks from the start, so that the encoder's sound input opens in ~0.2 s
 * instead of ~2 s.
 *
 * PulseAudio's null sink renders 2 s blocks while no stream asks for less latency, and it starts one when
 * its first stream connects: that stream (the encoder's pulse input, the first one until now) gets its first
 * sound 2 s later, and ffmpeg opens no input before that, so the file could start no earlier than ~2.1 s after
 * the encoder's spawn. A stream that connects while the sink is suspended and asks for 50 ms sets the
 * block length before the sink renders anything: so the sink is suspended, a recording stream of its
 * monitor (parec, to /dev/null) connects, and the sink is resumed. That stream stays for the whole
 * recording, so that the sink never goes back to long blocks (a stream that connected after the last one
 * left waited up to 2 s again). Returns the parec process.
 */
async function keepSinkAwake(pulseServer: string, timeoutMs: number): Promise<ChildProcess> {
  const env = { ...process.env, PULSE_SERVER: pulseServer };
  const pactl = (...args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile('pactl', args, { env, timeout: timeoutMs }, (err, _out, stderr) =>
        err ? reject(new RecorderError('display_failed', `pactl ${args.join(' ')} failed: ${stderr || err.message}`, { cause: err })) : resolve(),
      ),
    );
  await pactl('suspend-sink', SINK, '1');
  const keeper = spawn('parec', ['--verbose', `--device=${SINK}.monitor`, '--latency-msec=50', '--rate=48000', '--channels=2'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const stderr = tail();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RecorderError('display_failed', `parec did not connect within ${timeoutMs} ms: ${stderr.text}`)), timeoutMs);
      keeper.stderr!.on('data', (d: Buffer) => {
        stderr.push(d);
        if (stderr.text.includes('Stream successfully created')) {
          clearTimeout(timer);
          resolve();
        }
      });
      rejectOnEarlyEnd(keeper, 'parec', stderr, timer, reject);
    });
    keeper.stderr!.removeAllListeners('data');
    keeper.stderr!.resume();
    await pactl('suspend-sink', SINK, '0');
    return keeper;
  } catch (err) {
    await terminate(keeper);
    throw err;
  }
}

/** Rejects with display_failed when `child` cannot start or exits before it is ready (clearing its start timer). */
function rejectOnEarlyEnd(child: ChildProcess, name: string, stderr: { text: string }, timer: ReturnType<typeof setTimeout>, reject: (err: Error) => void): void {
  child.once('error', (err) => {
    clearTimeout(timer);
    reject(new RecorderError('display_failed', `${name} could not be started: ${err.message}`, { cause: err }));
  });
  child.once('exit', (code) => {
    clearTimeout(timer);
    reject(new RecorderError('display_failed', `${name} exited with code ${code}: ${stderr.text}`));
  });
}

async function startPulse(socket: string, workDir: string, timeoutMs: number): Promise<ChildProcess> {
  const child = spawn(
    'pulseaudio',
    [
      '--daemonize=no',
      '--exit-idle-time=-1',
      '--disallow-exit',
      '--use-pid-file=no',
      '--log-target=stderr',
      '-n',
      `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
      `--load=module-null-sink sink_name=${SINK} rate=48000 channels=2`,
      '--load=module-always-sink',
    ],
    // PulseAudio keeps its state under HOME/XDG_RUNTIME_DIR; a private one avoids clashing with other recordings.
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: workDir, XDG_RUNTIME_DIR: workDir, XDG_CONFIG_HOME: workDir } },
  );
  const stderr = tail();
  child.stderr?.on('data', (d) => stderr.push(d));
  let failure: Error | undefined;
  child.once('error', (err) => (failure = err));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (failure || child.exitCode !== null) {
      throw new RecorderError('display_failed', `PulseAudio could not be started: ${failure?.message ?? stderr.text}`);
    }
    if (Date.now() > deadline) {
      await terminate(child);
      throw new RecorderError('display_failed', `PulseAudio did not start within ${timeoutMs} ms: ${stderr.text}`);
    }
    await sleep(25);
  }
  return child;
}
