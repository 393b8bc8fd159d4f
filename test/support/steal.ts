/**
 * CPU steal over a test's own window, for the few checks that count frames or seconds of a live capture.
 * A hypervisor that takes the vCPUs stalls the page, the grabs and the encoder alike, and the frames it
 * takes are missing from any recorder (the bench's reference lost 46 % of its frames at 50 % steal).
 * Such a check keeps its bound for the share of the time the machine really had, and says how much it had.
 */
import { readCpuTicks, stealPercent } from '../../bench/cpu-steal.ts';

export interface StealWatch {
  /** Steal since the watch began, in percent of all the machine's CPU time; 0 where it cannot be read. */
  percent(): number;
}

export function watchSteal(): StealWatch {
  const before = readCpuTicks();
  return { percent: () => stealPercent(before, readCpuTicks()) ?? 0 };
}
