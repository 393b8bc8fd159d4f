/**
 * The recorder image without a Docker engine: the Dockerfile installs its packages through the same
 * script local mode uses (exercised here for real), and the recorder bundle it ships builds and starts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = 'recorder-image/install-system-packages.sh';

describe('recorder image', () => {
  it('the Dockerfile and local setup both install through the one shared script', () => {
    const dockerfile = readFileSync('recorder-image/Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/COPY recorder-image\/install-system-packages\.sh /);
    expect(dockerfile).toMatch(/RUN install-system-packages\.sh/);
    expect(readFileSync('scripts/setup.sh', 'utf8')).toContain(SCRIPT);
  });

  it('the script lists the recorder packages and finds them all installed here', async () => {
    const { stdout } = await run('bash', [SCRIPT, '--list']);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['chromium', 'ffmpeg', 'xvfb', 'pulseaudio', 'pulseaudio-utils']));
    const check = await run('bash', [SCRIPT, '--check']);
    expect(check.stdout).toContain('all recorder system packages are installed');
  });

  it('the script rejects an unknown option', async () => {
    const result = await run('bash', [SCRIPT, '--frobnicate']).catch((err) => err);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option');
  });

  it('the recorder bundle builds, and without its environment it says what is missing', async () => {
    await run(process.execPath, ['scripts/build-recorder.ts', 'dist/recorder-test']);
    const result = await run(process.execPath, ['dist/recorder-test/main.mjs'], { env: { PATH: process.env.PATH } }).catch((err) => err);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Missing required environment variable RECORDING_ID');
  });
});
