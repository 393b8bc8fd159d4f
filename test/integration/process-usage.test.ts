/**
 * CPU and memory of a process tree (process-cpu.ts), read from /proc of real processes: the peak PSS follows
 * memory the tree touches, and PSS (costly to read) is read again only when the resident set grew; the CPU
 * is split by process, including children that have exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessTreeCpu } from '../../recorder-image/src/process-cpu.ts';

const MiB = 2 ** 20;
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** A process that, for each line on stdin, touches another 64 MiB, then burns ~0.3 s of CPU, and answers. */
async function startHolder(): Promise<{ pid: number; step(): Promise<void> }> {
  const script = `
    const held = [];
    process.stdin.on('data', () => {
      held.push(Buffer.alloc(64 * 1024 * 1024, 1));
      const end = Date.now() + 300;
      while (Date.now() < end);
      process.stdout.write('ok\\n');
    });
    process.stdout.write('ready\\n');`;
  child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const proc = child;
  await once(proc.stdout!, 'data');
  return {
    pid: proc.pid!,
    async step() {
      proc.stdin!.write('x\n');
      await once(proc.stdout!, 'data');
    },
  };
}

describe('process tree usage', () => {
  it('follows memory the tree touches, reading PSS again only when the resident set grew', async () => {
    const holder = await startHolder();
    const usage = new ProcessTreeCpu(holder.pid);
    const cpuStart = usage.sample();
    expect(usage.pssReadings).toBe(1);
    const base = usage.peakPssBytes;
    expect(base).toBeGreaterThan(5 * MiB);
    // Nothing grew: no second reading.
    usage.sample();
    usage.sample();
    expect(usage.pssReadings).toBe(1);
    // 64 MiB touched: read again, and the peak shows it.
    await holder.step();
    const cpuAfter = usage.sample();
    expect(usage.pssReadings).toBe(2);
    expect(usage.peakPssBytes - base).toBeGreaterThan(60 * MiB);
    expect(cpuAfter - cpuStart).toBeGreaterThan(0.2);
    await holder.step();
    usage.sample();
    expect(usage.pssReadings).toBe(3);
    expect(usage.peakPssBytes - base).toBeGreaterThan(124 * MiB);
  }, 20_000);

  it('splits the CPU by process: a real ffmpeg child counts as the encoder, after it exited too', async () => {
    const usage = new ProcessTreeCpu(process.pid);
    usage.sample();
    const before = usage.secondsByPart();
    child = spawn('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30', '-t', '4', '-c:v', 'libx264', '-preset', 'veryfast', '-f', 'null', '-'], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    // Sampled while it runs (a process that has exited is no longer in /proc), then after.
    const end = Date.now() + 60_000;
    while (child.exitCode === null && Date.now() < end) {
      usage.sample();
      await new Promise((r) => setTimeout(r, 200));
    }
    await exited;
    usage.sample();
    const after = usage.secondsByPart();
    const ffmpeg = (after.ffmpeg ?? 0) - (before.ffmpeg ?? 0);
    expect(ffmpeg).toBeGreaterThan(0.3);
    // This process is the tree's root: the recorder's part.
    expect(after.recorder).toBeGreaterThan(0);
    const total = Object.values(after).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(usage.totalSeconds(), 6);
  }, 90_000);

  it('names a process again while its command line may still change: first seen as something else, then ffmpeg', async () => {
    const usage = new ProcessTreeCpu(process.pid);
    // A child that starts as node (unknown: 'other'), renames itself, and then burns ~0.5 s of CPU.
    const script = `process.stdout.write('up\\n');
      process.stdin.once('data', () => { process.title = 'ffmpeg'; const end = Date.now() + 500; while (Date.now() < end); process.stdout.write('done\\n'); });`;
    child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    usage.sample();
    expect(usage.secondsByPart().other).toBeGreaterThan(0);
    child.stdin!.write('x\n');
    await once(child.stdout!, 'data');
    usage.sample();
    expect(usage.secondsByPart().ffmpeg).toBeGreaterThan(0.3);
  }, 20_000);
});
