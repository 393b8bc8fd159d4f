/**
 * Adds one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own summary, so
 * that CI tooling that reads counts from the last line sees them whatever the reporter's formatting.
 * Before it, how much CPU time the hypervisor took over the run (steal), which the live-capture tests'
 * timing depends on.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { readCpuTicks, stealPercent } from '../../bench/cpu-steal.ts';

export default class SummaryLineReporter implements Reporter {
  private readonly ticks = readCpuTicks();

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      passed += [...module.children.allTests('passed')].length;
      failed += [...module.children.allTests('failed')].length;
      skipped += [...module.children.allTests('skipped')].length;
      // A file that failed to load has no tests but must still count as a failure.
      if (module.state() === 'failed' && ![...module.children.allTests()].length) failed += 1;
    }
    const steal = stealPercent(this.ticks, readCpuTicks());
    if (steal !== undefined) process.stdout.write(`\nCPU steal over the run: ${steal.toFixed(1)} %`);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
