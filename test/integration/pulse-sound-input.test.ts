/**
 * The recorder's sound server (display.ts): real PulseAudio, pactl, parec and ffmpeg. The null sink renders
 * 2 s blocks until a stream asks for less, and it starts one when its first stream connects, so an encoder
 * whose sound input was that first stream waited ~2 s for its first sound (and ffmpeg opens nothing else
 * before it). The environment keeps a short-latency stream on the sink from the start instead.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startAvEnvironment, type AvEnvironment } from '../../recorder-image/src/display.ts';

const run = promisify(execFile);
const workDir = mkdtempSync(join(tmpdir(), 'pulse-input-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Milliseconds from ffmpeg's spawn until its pulse input is open (it has read the first sound). */
async function soundInputOpensAfterMs(av: AvEnvironment): Promise<number> {
  const started = Date.now();
  const child = spawn('ffmpeg', ['-hide_banner', '-f', 'pulse', '-i', av.audioSource, '-t', '0.2', '-f', 'null', '-'], {
    env: { ...process.env, PULSE_SERVER: av.pulseServer },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    let openedAt: number | undefined;
    child.stderr.on('data', (d: Buffer) => {
      text += d;
      if (openedAt === undefined && /Input #0, pulse/.test(text)) openedAt = Date.now() - started;
    });
    child.once('exit', (code) => (code === 0 && openedAt !== undefined ? resolve(openedAt) : reject(new Error(`ffmpeg exited with ${code}: ${text}`))));
  });
}

async function keeperStreams(av: AvEnvironment): Promise<string[]> {
  const { stdout } = await run('pactl', ['list', 'short', 'source-outputs'], { env: { ...process.env, PULSE_SERVER: av.pulseServer } });
  return stdout.split('\n').filter(Boolean);
}

describe('the sound server', () => {
  it("opens the encoder's sound input at once, not after the null sink's 2 s block, and stops its keeper with it", async () => {
    const av = await startAvEnvironment({ width: 320, height: 240, workDir });
    let stopped = false;
    try {
      // One stream on the sink's monitor from the start: the keeper.
      expect(await keeperStreams(av)).toHaveLength(1);
      // The first encoder, right after start-up (as the recorder spawns it), and a later one (as after a
      // pause). Without the keeper the first waited ~1.9–2.0 s here, and one that connected after the
      // previous stream had left waited up to 2 s.
      expect(await soundInputOpensAfterMs(av)).toBeLessThan(1200);
      await new Promise((r) => setTimeout(r, 700));
      expect(await soundInputOpensAfterMs(av)).toBeLessThan(1200);
      // The keeper is a child of this process (other tests' recorders run keepers of their own meanwhile).
      const keeperPids = (await run('pgrep', ['-P', String(process.pid), '-x', 'parec'])).stdout.split('\n').filter(Boolean).map(Number);
      expect(keeperPids.length).toBeGreaterThan(0);
      await av.stop();
      stopped = true;
      // The keeper exits with the environment.
      const alive = keeperPids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      expect(alive).toEqual([]);
    } finally {
      if (!stopped) await av.stop();
    }
  }, 30_000);

  it('a sound server that cannot start fails the environment with display_failed, and leaves no display running', async () => {
    const displays = async () => (await run('pgrep', ['-P', String(process.pid), '-x', 'Xvfb']).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
    const before = await displays();
    // PulseAudio cannot put its socket under a file (it creates missing folders); Xvfb, started alongside, starts.
    const result = await startAvEnvironment({ width: 320, height: 240, workDir: '/dev/null/recorder' }).then(
      async (av) => {
        await av.stop();
        return 'started';
      },
      (err: unknown) => err,
    );
    expect(result).toMatchObject({ code: 'display_failed' });
    const left = (await displays()).filter((pid) => !before.includes(pid));
    expect(left).toEqual([]);
  }, 30_000);
});
