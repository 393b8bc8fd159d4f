/**
 * Fargate task sizes: the valid memory sizes (MiB) per CPU size (units of 1/1024 vCPU), as `[min, max, step]`.
 * The recorder construct checks its size against them at synth time (a bad combination fails before deploy, not
 * at the first RunTask), and the cost table (bench/cost.ts) picks the smallest size that fits from them.
 */
export const FARGATE_MEMORY_MIB: Readonly<Record<number, readonly [number, number, number]>> = {
  256: [512, 2048, 512], // 512, 1024 or 2048: 1536 is not offered
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

/** CPU sizes, smallest first. */
export const FARGATE_CPU_UNITS: readonly number[] = Object.keys(FARGATE_MEMORY_MIB).map(Number).sort((a, b) => a - b);

/** Whether Fargate offers `memoryMiB` with `cpu` units. */
export function isFargateSize(cpu: number, memoryMiB: number): boolean {
  const sizes = FARGATE_MEMORY_MIB[cpu];
  if (!sizes) return false;
  const [min, max, step] = sizes;
  return Number.isInteger(memoryMiB) && memoryMiB >= min && memoryMiB <= max && memoryMiB % step === 0 && !(cpu === 256 && memoryMiB === 1536);
}

/** The memory sizes (MiB) Fargate offers with `cpu` units, smallest first. */
export function fargateMemoryOptionsMiB(cpu: number): number[] {
  const sizes = FARGATE_MEMORY_MIB[cpu];
  if (!sizes) return [];
  const [min, max, step] = sizes;
  const options: number[] = [];
  for (let mib = min; mib <= max; mib += step) if (isFargateSize(cpu, mib)) options.push(mib);
  return options;
}
