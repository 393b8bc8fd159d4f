import { describe, expect, it } from 'vitest';
import { loadRecorderConfig } from '../../recorder-image/src/config.ts';
import { ffmpegArgs } from '../../recorder-image/src/ffmpeg-capture.ts';
import { probeArgs } from '../../recorder-image/src/landing-probe.ts';
import { grabThreadOf, isEncoderRun, realtimeThreadsOf } from '../../recorder-image/src/realtime-threads.ts';

const threads = (...list: [number, string][]) => list.map(([tid, comm]) => ({ tid, comm }));

describe('which threads run in real time', () => {
  it("Xvfb's one thread; the browser's display compositor; each page's compositor; nothing of the other processes", () => {
    expect(realtimeThreadsOf('xvfb', 40, threads([40, 'Xvfb'], [41, 'llvmpipe-0']))).toEqual([40]);
    expect(realtimeThreadsOf('browser', 50, threads([50, 'chromium'], [51, 'VizCompositorTh'], [52, 'Chrome_IOThread'], [53, 'Compositor']))).toEqual([51]);
    expect(realtimeThreadsOf('renderer', 60, threads([60, 'chromium'], [61, 'Compositor'], [62, 'Compositor'], [63, 'Media']))).toEqual([61, 62]);
    for (const part of ['sound', 'recorder', 'browserHelpers', 'other', 'ffmpeg'] as const) {
      expect(realtimeThreadsOf(part, 70, threads([70, 'Compositor'], [71, 'VizCompositorTh']))).toEqual([]);
    }
    // A process that has exited (no threads listed) gives nothing, Xvfb included.
    expect(realtimeThreadsOf('xvfb', 40, [])).toEqual([]);
  });
});

describe('which ffmpeg processes have a grab thread to raise', () => {
  it("the recorder's encoder runs, not its short watches of the page nor an ffmpeg that grabs nothing", () => {
    const capture = { display: ':5', pulseServer: 'unix:/tmp/p', audioSource: 'recorder.monitor', width: 1280, height: 720, fps: 30, x264Preset: 'veryfast', videoMaxBitrateKbps: 3000, timelineBaseSeconds: 1_795_000_000, startAtSeconds: 2.1 };
    expect(isEncoderRun(['ffmpeg', ...ffmpegArgs(capture)])).toBe(true);
    expect(isEncoderRun(['ffmpeg', ...probeArgs({ display: ':5', width: 1280, height: 720, durationMs: 400 })])).toBe(false);
    expect(isEncoderRun(['ffmpeg', '-i', 'in.mp4', '-c:v', 'libx264', 'out.mp4'])).toBe(false);
  });
});

describe("finding x11grab's thread in ffmpeg by its sleep between grabs", () => {
  const SLEEPS = [230, 35]; // x86-64 clock_nanosleep, nanosleep
  const FUTEX = 202;
  const READ = 0;
  const sample = (entries: [number, number | undefined][]) => new Map(entries);

  it('picks the thread that sleeps in most samples, never the main thread', () => {
    const samples = [
      sample([[100, 230], [101, READ], [103, 230], [104, FUTEX]]),
      sample([[100, 230], [101, READ], [103, 230], [104, FUTEX]]),
      sample([[100, 230], [101, READ], [103, FUTEX], [104, 35]]),
      sample([[100, 230], [101, READ], [103, 35], [104, FUTEX]]),
    ];
    expect(grabThreadOf(100, samples, SLEEPS)).toBe(103);
  });

  it('finds none when no thread sleeps in at least half of the samples (an encoder between grabs, or stalled)', () => {
    const samples = [sample([[100, FUTEX], [103, 230], [104, FUTEX]]), sample([[100, FUTEX], [103, FUTEX], [104, FUTEX]]), sample([[100, FUTEX], [103, READ], [104, 230]]), sample([[100, FUTEX], [103, READ], [104, FUTEX]])];
    expect(grabThreadOf(100, samples, SLEEPS)).toBeUndefined();
    // Unreadable syscalls (a thread that ended, or no permission) count as not sleeping.
    expect(grabThreadOf(100, [sample([[103, undefined]]), sample([[103, undefined]])], SLEEPS)).toBeUndefined();
    // An architecture whose sleep calls are not known finds nothing.
    expect(grabThreadOf(100, [sample([[103, 230]])], [])).toBeUndefined();
  });
});

describe('REALTIME_THREADS', () => {
  const env = { RECORDING_ID: 'r', TABLE_NAME: 't', BUCKET_NAME: 'b' };
  it("is on unless set to 'off'; any other value is refused with a clear message", () => {
    expect(loadRecorderConfig(env).realtimeThreads).toBe(true);
    expect(loadRecorderConfig({ ...env, REALTIME_THREADS: 'on' }).realtimeThreads).toBe(true);
    expect(loadRecorderConfig({ ...env, REALTIME_THREADS: 'off' }).realtimeThreads).toBe(false);
    expect(() => loadRecorderConfig({ ...env, REALTIME_THREADS: 'yes' })).toThrow("REALTIME_THREADS must be 'on' or 'off', not 'yes'.");
  });
});
