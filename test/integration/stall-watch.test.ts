/**
 * The stall watch that the live-capture tests size their frame counts by (test/support/stalls.ts): it
 * counts a process that stands still (SIGSTOP, as a frozen virtual machine stands still), and not a busy
 * main thread or busy cores.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchStalls } from '../support/stalls.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stall watch', () => {
  it('counts the time its process was stopped', async () => {
    const script = `import { watchStalls } from ${JSON.stringify(join(import.meta.dirname, '../support/stalls.ts'))};
const w = watchStalls();
process.stdout.write('ready\\n');
setTimeout(() => { console.log(JSON.stringify(w.stop())); process.exit(0); }, 2000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    for (const deadline = Date.now() + 10_000; !out.includes('ready') && Date.now() < deadline; ) await sleep(10);
    await sleep(300);
    child.kill('SIGSTOP');
    await sleep(500);
    child.kill('SIGCONT');
    await new Promise((r) => child.once('exit', r));
    const seen = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!);
    expect(seen.stalledSeconds).toBeGreaterThan(0.45);
    expect(seen.stalledSeconds).toBeLessThan(0.8);
    expect(seen.longestStallMs).toBeGreaterThan(450);
    expect(seen.stallCount).toBeGreaterThanOrEqual(1);
    expect(seen.ran).toBeLessThan(0.8);
    expect(seen.text).toMatch(/stalled 0\.\d\d s in \d+ stalls/);
  });

  it('does not count a busy main thread', async () => {
    const w = watchStalls();
    await sleep(100);
    for (const until = Date.now() + 500; Date.now() < until; );
    await sleep(100);
    const seen = w.stop();
    expect(seen.seconds).toBeGreaterThan(0.65);
    expect(seen.stalledSeconds).toBeLessThan(0.1);
    expect(w.stop()).toBe(seen);
  });
});
