import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

/**
 * The repository root. Lambda bundles and the recorder image are built from it, so CDK code resolves every
 * source path against it instead of the process's working directory (tests and `cdk synth` differ there).
 */
export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The lock file esbuild bundling keys its cache on. */
export const DEPS_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

/** Absolute path of a file given relative to the repository root. */
export function projectPath(...segments: string[]): string {
  return path.join(PROJECT_ROOT, ...segments);
}
