import { describe, expect, it } from 'vitest';
import { parseCpuTicks, readCpuTicks, stealPercent } from '../../bench/cpu-steal.ts';

describe('CPU steal (bench)', () => {
  it('reads all ticks and the stolen ones from /proc/stat, and gives steal between two readings', () => {
    const before = parseCpuTicks('cpu  156564 972 17325 344944 786 0 3053 49005 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n');
    expect(before).toEqual({ total: 156564 + 972 + 17325 + 344944 + 786 + 0 + 3053 + 49005, steal: 49005 });
    const after = { total: before.total + 400, steal: before.steal + 100 };
    expect(stealPercent(before, after)).toBe(25);
    expect(stealPercent(before, before)).toBeUndefined();
    expect(stealPercent(undefined, after)).toBeUndefined();
    expect(() => parseCpuTicks('intr 1 2 3\n')).toThrow(/no cpu line/);
    expect(() => parseCpuTicks('cpu  1 2 3 4\n')).toThrow(/no steal field/);
  });

  it('reads this machine', () => {
    const ticks = readCpuTicks();
    expect(ticks).toBeDefined();
    expect(ticks!.total).toBeGreaterThan(0);
    expect(ticks!.steal).toBeGreaterThanOrEqual(0);
    expect(ticks!.steal).toBeLessThan(ticks!.total);
  });
});
