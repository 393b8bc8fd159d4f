import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // e2e tests start Chromium and ffmpeg; on a 2-core machine they must not run side by side.
    fileParallelism: false,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
