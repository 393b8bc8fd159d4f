/** Temp outdirs for CDK Apps in tests: without one, each App leaves a cdk.out* dir in the temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh outdir for an App, removed once the test file's tests are done. */
export function tempOutdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cdk-test-'));
  outdirs.push(dir);
  return dir;
}
