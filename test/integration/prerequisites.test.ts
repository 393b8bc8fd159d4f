/** A missing system prerequisite stops local mode at once, naming the piece and how to install it. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { describeMissing, missingPrerequisites, PREREQUISITES } from '../../recorder-image/src/preflight.ts';

const run = promisify(execFile);

describe('system prerequisites', () => {
  it('this machine has them all (the test suite records for real)', () => {
    expect(missingPrerequisites()).toEqual([]);
  });

  it('names each missing piece with its Debian package', () => {
    const missing = missingPrerequisites({ PATH: '/nonexistent', CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(missing.map((p) => p.name)).toEqual(PREREQUISITES.map((p) => p.name));
    const message = describeMissing(missing);
    for (const piece of ['Chromium', 'ffmpeg', 'Xvfb', 'PulseAudio', 'pactl', 'parec']) expect(message).toContain(piece);
    expect(message).toContain('apt-get install -y chromium ffmpeg xvfb pulseaudio pulseaudio-utils');
  });

  it('`npm start` without ffmpeg, Xvfb or PulseAudio exits at once with that message', async () => {
    // Prepare: a PATH that has node and nothing else.
    const bin = mkdtempSync(join(tmpdir(), 'mr-path-'));
    onTestFinished(() => rmSync(bin, { recursive: true, force: true }));
    symlinkSync(process.execPath, join(bin, 'node'));
    // Act
    const started = Date.now();
    const result = await run(process.execPath, ['local/start.ts', '--port', '0', '--data-dir', join(bin, 'data')], {
      env: { PATH: bin, HOME: bin },
      timeout: 20_000,
    }).catch((err) => err);
    // Assess
    expect(result.code).toBe(3);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stderr).toContain('Missing system prerequisites: ');
    for (const piece of ['ffmpeg', 'Xvfb', 'PulseAudio']) expect(result.stderr).toContain(piece);
    expect(result.stderr).toContain('apt-get install');
  });

  it('an unknown CLI option is a clear error, not a stack trace', async () => {
    const result = await run(process.execPath, ['local/start.ts', '--prot', '80'], { timeout: 20_000 }).catch((err) => err);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown option '--prot'");
  });
});
