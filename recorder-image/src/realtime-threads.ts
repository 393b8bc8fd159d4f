/**
 * Real-time scheduling for the few threads that put a picture on the screen and read it off again, so that
 * the encoder, which keeps both cores busy at 1080p, cannot hold them back. They run briefly once per frame:
 *  - Xvfb's one thread, which draws the browser's pictures and copies each grab out (XShmGetImage);
 *  - the display compositor in Chromium's browser process (`VizCompositorTh`, with `--in-process-gpu`);
 *  - each page's compositor thread (`Compositor` in a renderer process);
 *  - x11grab's thread in each encoder run of ffmpeg, which sleeps until each grab is due (found by that
 *    sleep: ffmpeg 5.1 does not name its threads). The short watches of the page (landing-probe.ts, an
 *    ffmpeg that grabs to nothing for 0.4 s) are left alone.
 * Everything else, the encoder first, keeps the normal scheduler. The threads get SCHED_FIFO at priority 1,
 * the lowest real-time priority, through `chrt` (util-linux). The kernel still keeps 5 % of each second for
 * the normal scheduler (kernel.sched_rt_runtime_us), so a runaway thread cannot lock a core.
 *
 * Measured at 1080p30 (40 s recordings, on and off alternating, three pairs at 3–13 % CPU steal; see the
 * README's findings): repeated frames 4.45 / 2.99 / 0.99 % with it against 7.80 / 10.32 / 6.58 % without, and
 * the grabs on their place within 1 ms 90–97 % of the time against 73–83 %, at the same CPU.
 *
 * It needs CAP_SYS_NICE (root in local mode) or an `rtprio` resource limit of at least 1, which the ECS task
 * definition sets (Fargate grants no CAP_SYS_NICE). Where neither holds, the first refusal is logged once and
 * the recording goes on at normal priority.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from './log.ts';
import type { ProcessPart, TreeProcess } from './process-cpu.ts';

export interface ThreadInfo {
  tid: number;
  comm: string;
}

/** The threads of a process that run in real time, by their names (ffmpeg's grab thread is found apart). */
export function realtimeThreadsOf(part: ProcessPart, pid: number, threads: ThreadInfo[]): number[] {
  if (part === 'xvfb') return threads.some((t) => t.tid === pid) ? [pid] : [];
  if (part === 'browser') return threads.filter((t) => t.comm === 'VizCompositorTh').map((t) => t.tid);
  if (part === 'renderer') return threads.filter((t) => t.comm === 'Compositor').map((t) => t.tid);
  return [];
}

/** The sleeps x11grab waits in between grabs (clock_nanosleep, nanosleep), by architecture. */
const SLEEP_SYSCALLS: Partial<Record<NodeJS.Architecture, number[]>> = { x64: [230, 35], arm64: [115, 101] };

/**
 * Of `samples` (each: the syscall every thread was in at one instant), the thread seen sleeping most often,
 * if it slept in at least half of them: x11grab's thread sleeps between grabs, while the encoder's threads
 * wait on locks (futex) and the input threads of pulse and the gate on reads.
 */
export function grabThreadOf(pid: number, samples: Map<number, number | undefined>[], sleeps: number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const sample of samples) {
    for (const [tid, syscall] of sample) if (tid !== pid && syscall !== undefined && sleeps.includes(syscall)) counts.set(tid, (counts.get(tid) ?? 0) + 1);
  }
  const [best] = [...counts].sort((a, b) => b[1] - a[1]);
  return best && best[1] * 2 >= samples.length ? best[0] : undefined;
}

/** An ffmpeg that grabs the screen and encodes it (ffmpeg-capture.ts), not a watch of the page. */
export function isEncoderRun(args: string[]): boolean {
  return args.includes('x11grab') && args.includes('libx264');
}

function listThreads(pid: number): ThreadInfo[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadInfo[] = [];
  for (const tid of tids) {
    try {
      out.push({ tid: Number(tid), comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() });
    } catch {
      // gone
    }
  }
  return out;
}

function currentSyscall(pid: number, tid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ', 1)[0]!;
    return /^\d+$/.test(first) ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** SCHED_FIFO priority 1 for one thread; rejects with chrt's message. */
export function raiseThread(tid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('chrt', ['--fifo', '--pid', '1', String(tid)], { timeout: 5000 }, (error, _stdout, stderr) => (error ? reject(new Error(stderr.trim() || error.message)) : resolve()));
  });
}

/** The scheduling policy of a thread (/proc/<tid>/stat field 41): 0 normal, 1 FIFO, 2 round robin. */
export function threadPolicy(tid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${tid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[38]);
  } catch {
    return undefined;
  }
}

const GRAB_SAMPLES = 30;
const GRAB_SAMPLE_MS = 7;
/** An encoder is looked at for its grab thread this many times (each ~0.2 s of samples) before it is left. */
const GRAB_TRIES = 3;

/**
 * Raises the threads above in the recorder's process tree. `scan` is called with the tree at every CPU
 * sample, so that the processes that come later (a page reloaded after a crash, a new encoder after a
 * takeover) are found too; each thread is raised once.
 */
export class RealtimeThreads {
  /** Threads raised so far, by process part (for the log). */
  readonly raised: { part: ProcessPart; tid: number }[] = [];
  private readonly done = new Set<string>();
  private readonly grabTries = new Map<string, number>();
  private readonly raisedTids = new Set<number>();
  private refused: string | undefined;
  private busy = false;
  private readonly sleeps: number[];
  private readonly log: Logger;
  private readonly raise: (tid: number) => Promise<void>;

  constructor(log: Logger, raise: (tid: number) => Promise<void> = raiseThread, arch: NodeJS.Architecture = process.arch) {
    this.log = log;
    this.raise = raise;
    this.sleeps = SLEEP_SYSCALLS[arch] ?? [];
  }

  /** Why real-time scheduling was refused, once it was (nothing more is tried). */
  get refusedBecause(): string | undefined {
    return this.refused;
  }

  /** For the log: threads raised per part, or why none could be. */
  summary(): Partial<Record<ProcessPart, number>> | { refused: string } {
    if (this.refused) return { refused: this.refused };
    const out: Partial<Record<ProcessPart, number>> = {};
    for (const { part } of this.raised) out[part] = (out[part] ?? 0) + 1;
    return out;
  }

  /** Looks at the tree once; a scan still running when the next comes makes that one a no-op. */
  async scan(tree: readonly TreeProcess[]): Promise<void> {
    if (this.busy || this.refused) return;
    this.busy = true;
    try {
      for (const p of tree) {
        if (this.refused) return;
        if (this.done.has(p.key)) continue;
        if (p.part === 'ffmpeg') {
          await this.scanEncoder(p);
          continue;
        }
        const tids = realtimeThreadsOf(p.part, p.pid, listThreads(p.pid));
        for (const tid of tids) await this.raiseOnce(p.part, tid);
        // Xvfb has its thread from the start; Chromium's processes gain theirs as they get going, and a
        // renderer may gain more (one per page), so they are looked at again at every scan.
        if (p.part === 'xvfb' && tids.length) this.done.add(p.key);
        if (p.part !== 'xvfb' && p.part !== 'browser' && p.part !== 'renderer') this.done.add(p.key);
      }
    } finally {
      this.busy = false;
    }
  }

  private async scanEncoder(p: TreeProcess): Promise<void> {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    } catch {
      this.done.add(p.key);
      return;
    }
    if (!isEncoderRun(cmdline.split('\0')) || !this.sleeps.length) {
      this.done.add(p.key);
      return;
    }
    const samples: Map<number, number | undefined>[] = [];
    for (let i = 0; i < GRAB_SAMPLES; i++) {
      const sample = new Map<number, number | undefined>();
      for (const { tid } of listThreads(p.pid)) sample.set(tid, currentSyscall(p.pid, tid));
      samples.push(sample);
      await new Promise((r) => setTimeout(r, GRAB_SAMPLE_MS));
    }
    const grab = grabThreadOf(p.pid, samples, this.sleeps);
    const tries = (this.grabTries.get(p.key) ?? 0) + 1;
    this.grabTries.set(p.key, tries);
    if (grab !== undefined) await this.raiseOnce('ffmpeg', grab);
    if (grab !== undefined || tries >= GRAB_TRIES) this.done.add(p.key);
  }

  private async raiseOnce(part: ProcessPart, tid: number): Promise<void> {
    if (this.raisedTids.has(tid) || this.refused) return;
    try {
      await this.raise(tid);
      this.raisedTids.add(tid);
      this.raised.push({ part, tid });
    } catch (error) {
      const message = (error as Error).message;
      // A thread that ended meanwhile is not a refusal.
      if (/No such process/i.test(message)) return;
      this.refused = message;
      this.log.warn('real-time scheduling refused: recording at normal priority', { reason: message, hint: 'needs CAP_SYS_NICE or an rtprio resource limit of at least 1' });
    }
  }
}
