/**
 * The stall watch that the live-capture tests size their frame counts by (test/support/stalls.ts): it
 * counts a process that stands still (SIGSTOP, as a frozen virtual machine stands still), and not a busy
 * main thread or busy cores. Each check has a second watch, in another process, over the same time: the
 * machine itself may stall meanwhile, and both then see it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchStalls, type Stalls } from '../support/stalls.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A watch in a process of its own, from its `ready` until `stop()` (a line on its stdin). */
async function watchInChild(): Promise<{ child: ChildProcess; stop(): Promise<Stalls> }> {
  const script = `import { watchStalls } from ${JSON.stringify(join(import.meta.dirname, '../support/stalls.ts'))};
const w = watchStalls();
process.stdin.once('data', () => { console.log(JSON.stringify(w.stop())); process.exit(0); });
process.stdout.write('ready\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  for (const deadline = Date.now() + 10_000; !out.includes('ready') && Date.now() < deadline; ) await sleep(10);
  expect(out).toContain('ready');
  return {
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.write('stop\n');
      await exited;
      return JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as Stalls;
    },
  };
}

describe('stall watch', () => {
  it('counts the time its process was stopped', async () => {
    const stopped = await watchInChild();
    const machine = watchStalls();
    await sleep(300);
    stopped.child.kill('SIGSTOP');
    await sleep(500);
    stopped.child.kill('SIGCONT');
    await sleep(300);
    const seen = await stopped.stop();
    const around = machine.stop();
    const context = `stopped process: ${seen.text}; this one: ${around.text}`;
    expect(seen.stalledSeconds, context).toBeGreaterThan(0.45);
    expect(seen.stalledSeconds, context).toBeLessThan(0.8 + around.stalledSeconds);
    expect(seen.longestStallMs, context).toBeGreaterThan(450);
    expect(seen.stallCount).toBeGreaterThanOrEqual(1);
    expect(seen.ran).toBeLessThan(0.8);
    expect(seen.text).toMatch(/stalled \d\.\d\d s in \d+ stalls/);
  });

  it('does not count a busy main thread', async () => {
    const machine = await watchInChild();
    const w = watchStalls();
    await sleep(100);
    for (const until = Date.now() + 500; Date.now() < until; );
    await sleep(100);
    const seen = w.stop();
    const around = await machine.stop();
    expect(seen.seconds).toBeGreaterThan(0.65);
    expect(seen.stalledSeconds, `busy process: ${seen.text}; another process: ${around.text}`).toBeLessThan(0.1 + around.stalledSeconds);
    expect(w.stop()).toBe(seen);
  });
});
