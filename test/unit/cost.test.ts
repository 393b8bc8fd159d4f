import { describe, expect, it } from 'vitest';
import { costTable, otherCostsPerHour, pickTaskSize, PRICES } from '../../bench/cost.ts';

const input = { cpuCores: 0.535, peakPssMiB: 805, mediaKbps: 3128, retentionDays: 7 };

describe('cost per recording hour (bench/cost.ts)', () => {
  it('picks the smallest Fargate size with CPU headroom and 1.5x the peak memory', () => {
    expect(pickTaskSize(input)).toEqual({ vcpu: 1, memoryGiB: 2 });
    expect(pickTaskSize({ ...input, cpuCores: 0.3, peakPssMiB: 600 })).toEqual({ vcpu: 0.5, memoryGiB: 1 });
    expect(pickTaskSize({ ...input, cpuCores: 1.019, peakPssMiB: 1039 })).toEqual({ vcpu: 2, memoryGiB: 4 });
    // Past the largest size (16 vCPU at most 75 % busy).
    expect(() => pickTaskSize({ ...input, cpuCores: 13 })).toThrow(/no Fargate size/);
  });

  it('prices the task per architecture and Spot from the list prices', () => {
    const { rows } = costTable(input);
    const arm = rows.find((r) => r.option.startsWith('arm64'))!;
    const spot = rows.find((r) => r.option.includes('Spot'))!;
    expect(arm.fargate).toBeCloseTo(PRICES.fargate.arm64.vcpuHour + 2 * PRICES.fargate.arm64.gbHour, 6);
    expect(spot.fargate).toBeCloseTo((PRICES.fargate.x86_64.vcpuHour + 2 * PRICES.fargate.x86_64.gbHour) * 0.3, 6);
    for (const row of rows) expect(row.total).toBeCloseTo(row.fargate + row.other, 9);
  });

  it('counts the segment PUTs, the storage for the retention and the public IP', () => {
    const other = otherCostsPerHour(input);
    expect(other['public IPv4 address']).toBe(0.005);
    // 1200 segments + 269 parts of 5 MiB at 3128 kbit/s.
    expect(other['S3 PUTs (parts + pending segments)']).toBeCloseTo(((1200 + 269) / 1000) * 0.005, 6);
    const storage = Object.entries(other).find(([name]) => name.startsWith('S3 storage'))!;
    expect(storage[1]).toBeCloseTo(1.4076 * 0.023 * (7 / 30.4), 4);
  });
});
