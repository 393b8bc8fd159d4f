/**
 * CPU time that the hypervisor took from this virtual machine (steal), from /proc/stat. On a shared host a
 * vCPU that is ready to run but not scheduled stalls everything on it, the page's drawing and the grabs
 * alike, so the bench gives each scenario's steal next to its figures.
 */
import { readFileSync } from 'node:fs';

export interface CpuTicks {
  /** All ticks of all CPUs: user, nice, system, idle, iowait, irq, softirq and steal. */
  total: number;
  steal: number;
}

/** The machine's ticks so far, from the `cpu` line of /proc/stat's text. */
export function parseCpuTicks(procStat: string): CpuTicks {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no cpu line');
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) throw new Error(`/proc/stat's cpu line has no steal field: ${line}`);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
}

/** This machine's ticks so far; undefined where there is no /proc/stat. */
export function readCpuTicks(): CpuTicks | undefined {
  try {
    return parseCpuTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Steal between two readings, in percent of all the machine's CPU time then. */
export function stealPercent(before: CpuTicks | undefined, after: CpuTicks | undefined): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}
