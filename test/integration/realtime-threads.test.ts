/**
 * Real-time scheduling for the recorder's drawing and grabbing threads (realtime-threads.ts), on real
 * processes and the real `chrt`: where it is allowed, the thread runs SCHED_FIFO; where it is refused, the
 * recorder says so once and goes on. Fargate grants no CAP_SYS_NICE, so the ECS task sets an `rtprio`
 * resource limit instead; the second case is that path, with the capability dropped for real (setpriv).
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../recorder-image/src/realtime-threads.ts', import.meta.url));
const asRoot = process.getuid?.() === 0;
/** Raising the rtprio limit needs CAP_SYS_RESOURCE, which some sandboxes (this machine's included) withhold. */
const canSetRtprio = asRoot && spawnSync('prlimit', ['--rtprio=1', '--', 'true']).status === 0;

/**
 * In a child process started through `wrapper`: a `sleep` process stands in for Xvfb (one thread, its pid),
 * the scan runs, and the child prints the sleeper's scheduling policy, the summary and the warnings.
 */
function scanInChild(wrapper: string[]): Promise<{ policy: number; summary: unknown; warnings: { message: string; reason: string }[] }> {
  const script = `
    import { spawn } from 'node:child_process';
    import { RealtimeThreads, threadPolicy } from ${JSON.stringify(MODULE)};
    const warnings = [];
    const log = { info() {}, warn(message, fields) { warnings.push({ message, ...fields }); }, error() {}, appendKeys() {}, record() {} };
    const sleeper = spawn('sleep', ['30']);
    await new Promise((r) => sleeper.once('spawn', r));
    const realtime = new RealtimeThreads(log);
    await realtime.scan([{ pid: sleeper.pid, key: 'sleeper', part: 'xvfb' }]);
    await realtime.scan([{ pid: sleeper.pid, key: 'sleeper', part: 'xvfb' }]);
    console.log(JSON.stringify({ policy: threadPolicy(sleeper.pid), summary: realtime.summary(), warnings }));
    sleeper.kill('SIGKILL');`;
  return new Promise((resolve, reject) => {
    execFile(wrapper[0]!, [...wrapper.slice(1), process.execPath, '--input-type=module', '-e', script], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

const WITHOUT_SYS_NICE = ['setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--'];

describe.skipIf(!asRoot)('real-time scheduling of the recorder threads (run as root, capabilities dropped with setpriv)', () => {
  it('with CAP_SYS_NICE, the thread runs SCHED_FIFO and is raised once', async () => {
    const out = await scanInChild(['env']);
    expect(out.policy).toBe(1);
    expect(out.summary).toEqual({ xvfb: 1 });
    expect(out.warnings).toEqual([]);
  });

  it.skipIf(!canSetRtprio)('without CAP_SYS_NICE but with an rtprio limit of 1 (the ECS task), the thread still runs SCHED_FIFO (skipped where the limit cannot be raised: no CAP_SYS_RESOURCE)', async () => {
    const out = await scanInChild(['prlimit', '--rtprio=1', '--', ...WITHOUT_SYS_NICE]);
    expect(out.policy).toBe(1);
    expect(out.summary).toEqual({ xvfb: 1 });
  });

  it('with neither, it is refused once, said in one warning, and the thread keeps the normal scheduler', async () => {
    const out = await scanInChild(['prlimit', '--rtprio=0', '--', ...WITHOUT_SYS_NICE]);
    expect(out.policy).toBe(0);
    expect(out.summary).toEqual({ refused: expect.stringMatching(/not permitted/i) });
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]!.message).toMatch(/refused: recording at normal priority/);
  });
});
