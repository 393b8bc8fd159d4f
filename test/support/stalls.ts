/**
 * How long the machine stood still while a test recorded: for the few checks that count the frames or
 * seconds of a live capture. A hypervisor that takes the vCPUs (steal) stalls the page, the grabs and the
 * encoder alike, and a stall's frames are missing from any recorder (the bench's reference lost 46 % of its
 * frames at 50 % steal). Such a check keeps its bound for the time the machine really ran, and its failure
 * message says how much time that was.
 *
 * Two measures, of which the larger counts:
 *  - stalls: a worker thread wakes every 10 ms and adds up how much later than that it woke, when that is
 *    over 30 ms. It sleeps almost always, so the scheduler wakes it at once however busy the recorder keeps
 *    the cores (a loaded machine does not count, a frozen one does).
 *  - steal: the CPU time the hypervisor took, from /proc/stat, as a share of all the machine's CPU time.
 */
import { Worker } from 'node:worker_threads';
import { readCpuTicks, stealPercent } from '../../bench/cpu-steal.ts';

const TICK_MS = 10;
const STALL_MS = 30;

const WORKER = `
const { workerData } = process.getBuiltinModule('node:worker_threads');
const seen = new Float64Array(workerData);
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - ${TICK_MS};
  if (late > ${STALL_MS}) { seen[0] += late; seen[1] = Math.max(seen[1], late); seen[2] += 1; }
  last = now;
}, ${TICK_MS});
`;

export interface Stalls {
  /** Seconds from the start of the watch to its stop. */
  seconds: number;
  /** Seconds the watcher thread stood still, in stalls over 30 ms; how many there were, and the longest (ms). */
  stalledSeconds: number;
  stallCount: number;
  longestStallMs: number;
  /** CPU steal over the watch, percent of all the machine's CPU time. */
  stealPercent: number;
  /** The share of the time the machine ran (0-1): 1 minus the larger of the stalls' and the steal's share. */
  ran: number;
  /** One line for a failure message. */
  text: string;
}

export interface StallWatch {
  /** Ends the watch and gives what it saw (the same each time it is called). */
  stop(): Stalls;
}

export function watchStalls(): StallWatch {
  const shared = new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT);
  const seen = new Float64Array(shared);
  const worker = new Worker(WORKER, { eval: true, workerData: shared });
  worker.unref();
  const startedMs = performance.now();
  const ticks = readCpuTicks();
  let final: Stalls | undefined;
  const read = (): Stalls => {
    const seconds = (performance.now() - startedMs) / 1000;
    const stalledSeconds = seen[0]! / 1000;
    const steal = stealPercent(ticks, readCpuTicks()) ?? 0;
    const lost = Math.min(1, Math.max(seconds > 0 ? stalledSeconds / seconds : 0, steal / 100));
    return {
      seconds,
      stalledSeconds,
      stallCount: seen[2]!,
      longestStallMs: seen[1]!,
      stealPercent: steal,
      ran: 1 - lost,
      text: `over ${seconds.toFixed(1)} s: stalled ${stalledSeconds.toFixed(2)} s in ${seen[2]} stalls (longest ${seen[1]!.toFixed(0)} ms), CPU steal ${steal.toFixed(1)} %`,
    };
  };
  return {
    stop: () => {
      final ??= read();
      void worker.terminate();
      return final;
    },
  };
}
