/**
 * CPU time and memory of the recorder and every process under it (Xvfb, PulseAudio, Chromium and its
 * children, ffmpeg), read from /proc. Sampled periodically so that children which exit early still count.
 * Memory is the proportional set size (PSS): shared pages are split between the processes sharing them,
 * so the sum over the tree is what the recording really occupies.
 *
 * Reading PSS is not free: the kernel walks a process's page tables for /proc/<pid>/smaps_rollup (2–6 ms
 * for a Chromium process or this one, ~25 ms per sample of a recording's tree). Read every 2 s, it was most
 * of the recorder's own CPU (1.15 s of 34 s in a CPU profile of a 720p bench recording, ~0.03 cores). So
 * the tree's resident set, which comes with the CPU times at no cost, decides when to read it again: the
 * PSS of the tree can only rise when memory is newly touched, which raises the resident set too.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  startTime: string;
  cpuTicks: number;
  rssBytes: number;
}

const PAGE_BYTES = 4096;
/** PSS is read again once the tree's resident set is this much above its low since the last reading. */
const PSS_RSS_GROWTH_BYTES = 8 * 2 ** 20;
/** ...and at least this often. */
const PSS_REFRESH_MS = 30_000;

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), startTime: fields[19], cpuTicks: Number(fields[11]) + Number(fields[12]), rssBytes: Number(fields[21]) * PAGE_BYTES };
  } catch {
    return undefined;
  }
}

export function processTree(rootPid: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const root = all.find((s) => s.pid === rootPid);
  const out: ProcStat[] = [];
  const stack = root ? [root] : [];
  while (stack.length) {
    const s = stack.pop()!;
    out.push(s);
    stack.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

function readPssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * The part of a recording a process plays, for the CPU split (`ProcessTreeCpu.secondsByPart`): the
 * display, the sound server (and the recorder's keep-awake `parec`), Chromium's browser process (which
 * also runs the display compositor, `--in-process-gpu`), its page (renderer) processes, its other helpers
 * (zygote, network and storage services), the encoder, the recorder itself, or anything else.
 */
export const PROCESS_PARTS = ['browser', 'renderer', 'browserHelpers', 'xvfb', 'sound', 'ffmpeg', 'recorder', 'other'] as const;
export type ProcessPart = (typeof PROCESS_PARTS)[number];

/**
 * Which part a process is, from its command line as in /proc/<pid>/cmdline: NUL-separated, or one string
 * with spaces for Chromium's child processes, which rewrite it (`/usr/lib/chromium/chromium --type=renderer ...`).
 */
export function processPart(cmdline: string, isRoot: boolean): ProcessPart {
  if (isRoot) return 'recorder';
  const exe = cmdline.split(/[\0 ]/, 1)[0]!.split('/').pop()!;
  if (exe === 'Xvfb') return 'xvfb';
  if (exe === 'pulseaudio' || exe === 'parec') return 'sound';
  if (exe === 'ffmpeg') return 'ffmpeg';
  if (exe === 'chromium' || exe === 'chrome' || exe === 'chrome_crashpad_handler') {
    const type = /(?:^|[\0 ])--type=([^\0 ]+)/.exec(cmdline)?.[1];
    if (type === undefined) return 'browser';
    return type === 'renderer' ? 'renderer' : 'browserHelpers';
  }
  return 'other';
}

function readPart(pid: number, isRoot: boolean): ProcessPart {
  try {
    return processPart(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), isRoot);
  } catch {
    return 'other';
  }
}

/** A process of the tree as of the last sample. */
export interface TreeProcess {
  pid: number;
  /** pid and start time: one process, even once its pid is reused. */
  key: string;
  part: ProcessPart;
}

/** Keeps the highest CPU time seen per process (pid + start time), so exited processes keep their share. */
export class ProcessTreeCpu {
  private readonly seen = new Map<string, number>();
  /** Each process's part (see processPart). */
  private readonly parts = new Map<string, ProcessPart>();
  private readonly rootPid: number;
  /** Highest PSS of the whole tree at one sample. */
  peakPssBytes = 0;
  /** How often PSS was read (see the top of the file). */
  pssReadings = 0;
  /** The tree's lowest resident set since PSS was last read (bytes), and when PSS was last read. */
  private rssLow = Infinity;
  private pssReadAt = 0;
  /** The tree at the last sample, with each process's part. */
  private lastTree: TreeProcess[] = [];

  constructor(rootPid: number = process.pid) {
    this.rootPid = rootPid;
  }

  sample(): number {
    const tree = processTree(this.rootPid);
    let rss = 0;
    this.lastTree = [];
    for (const s of tree) {
      const key = `${s.pid}:${s.startTime}`;
      this.seen.set(key, Math.max(this.seen.get(key) ?? 0, s.cpuTicks));
      // Read once, but again while it may still change: a child seen between fork and exec has its parent's
      // command line, and a Chromium process forked from the zygote the zygote's until it renames itself.
      const part = this.parts.get(key);
      if (part === undefined || part === 'other' || part === 'browserHelpers') this.parts.set(key, readPart(s.pid, s.pid === this.rootPid));
      this.lastTree.push({ pid: s.pid, key, part: this.parts.get(key)! });
      rss += s.rssBytes;
    }
    this.rssLow = Math.min(this.rssLow, rss);
    const now = Date.now();
    // The first sample reads it too (pssReadAt starts at 0).
    if (rss > this.rssLow + PSS_RSS_GROWTH_BYTES || now - this.pssReadAt >= PSS_REFRESH_MS) {
      let pss = 0;
      for (const s of tree) pss += readPssBytes(s.pid);
      this.peakPssBytes = Math.max(this.peakPssBytes, pss);
      this.pssReadings++;
      this.pssReadAt = now;
      this.rssLow = rss;
    }
    return this.totalSeconds();
  }

  /** The processes of the tree at the last sample, with their parts. */
  processes(): readonly TreeProcess[] {
    return this.lastTree;
  }

  totalSeconds(): number {
    let ticks = 0;
    for (const v of this.seen.values()) ticks += v;
    return ticks / CLOCK_TICKS_PER_SECOND;
  }

  /** CPU seconds so far per part of the recording (as of the last sample). */
  secondsByPart(): Partial<Record<ProcessPart, number>> {
    const out: Partial<Record<ProcessPart, number>> = {};
    for (const [key, ticks] of this.seen) {
      const part = this.parts.get(key) ?? 'other';
      out[part] = (out[part] ?? 0) + ticks / CLOCK_TICKS_PER_SECOND;
    }
    return out;
  }
}

/** Cores each part used between two `secondsByPart` readings `seconds` apart (to 3 decimals), busiest first. */
export function coresByPart(before: Partial<Record<ProcessPart, number>>, after: Partial<Record<ProcessPart, number>>, seconds: number): Partial<Record<ProcessPart, number>> {
  const cores = (Object.keys(after) as ProcessPart[]).map((part) => [part, Math.round((((after[part] ?? 0) - (before[part] ?? 0)) / Math.max(seconds, 0.001)) * 1000) / 1000] as const);
  return Object.fromEntries(cores.sort((a, b) => b[1] - a[1]));
}
