/**
 * The Lambda functions as `cdk deploy` would upload them: each one's minified bundle size and its cold
 * init time, measured on this machine.
 *
 * The app is synthesized with real esbuild bundling (lib/house-function.ts). Each bundle is then loaded in
 * a fresh Node process the way the Lambda Node.js runtime loads a CommonJS handler (`require`), with the
 * function's own environment from the template (NODE_OPTIONS, POWERTOOLS_*) plus the variables the runtime
 * sets (AWS_LAMBDA_FUNCTION_NAME, AWS_EXECUTION_ENV, ...), so Powertools initializes as on Lambda. Init is
 * the time from the start of the `require` to its return, measured inside the child with performance.now():
 * the bundle's own code plus the external AWS SDK clients it loads. On Lambda the runtime provides those
 * (@aws-sdk/client-*, @aws-sdk/lib-dynamodb) through NODE_PATH; here NODE_PATH points at this repository's
 * node_modules, the same packages.
 *
 *   npm run bench -- --only lambda
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { HouseFunction } from '../lib/house-function.ts';
import { MeetingRecorderStack } from '../lib/meeting-recorder-stack.ts';
import { projectPath } from '../lib/project-paths.ts';

const run = promisify(execFile);

export const LAMBDA_TARGETS = { bundleKiB: 300, initMs: 150 } as const;

export interface LambdaBundle {
  /** The function's construct id, e.g. `CreateRecordingFunction`. */
  name: string;
  /** Its handler module, e.g. `functions/handlers/create-recording.ts`. */
  entry: string;
  logicalId: string;
  /** The bundle CDK would upload (index.js; the source map beside it is not counted). */
  file: string;
  /** The literal (non-token) environment variables the template gives the function. */
  environment: Record<string, string>;
}

export interface SynthesizedBundles {
  bundles: LambdaBundle[];
  /** Removes the synthesized assembly. */
  dispose(): void;
}

/**
 * Synthesizes the deployable app into a temporary directory and lists every Lambda function's bundle.
 * Outside the repository on purpose: its package.json says `"type": "module"`, which would make Node read
 * the CommonJS index.js as ESM (in Lambda's /var/task there is no package.json).
 */
export function synthesizeLambdaBundles(): SynthesizedBundles {
  const outdir = mkdtempSync(join(tmpdir(), 'mr-lambda-bundles-'));
  const app = new App({ outdir });
  const stack = new MeetingRecorderStack(app, 'MeetingRecorder');
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as { Resources: Record<string, { Properties?: any }> };
  const bundles: LambdaBundle[] = [];
  for (const fn of stack.node.findAll().filter((c): c is HouseFunction => c instanceof HouseFunction)) {
    const logicalId = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnFunction);
    const properties = template.Resources[logicalId]?.Properties;
    const key: string | undefined = properties?.Code?.S3Key;
    if (!key) throw new Error(`${fn.node.path}: no code asset in the template`);
    const file = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
    if (!existsSync(file)) throw new Error(`${fn.node.path}: no bundle at ${file}`);
    const variables: Record<string, unknown> = properties.Environment?.Variables ?? {};
    const environment = Object.fromEntries(Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'));
    bundles.push({ name: fn.node.id, entry: fn.entry, logicalId, file, environment });
  }
  bundles.sort((a, b) => a.entry.localeCompare(b.entry));
  return { bundles, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}

/**
 * What the Lambda runtime sets besides the function's own variables, for a process that should behave like
 * an execution environment: Powertools' Tracer is on only where AWS_EXECUTION_ENV is set, its cold start
 * flag needs AWS_LAMBDA_INITIALIZATION_TYPE, our observability module looks at AWS_LAMBDA_FUNCTION_NAME,
 * and the SDK resolves through NODE_PATH.
 */
export function lambdaLikeEnvironment(bundle: LambdaBundle, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    ...bundle.environment,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: bundle.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: join(bundle.file, '..'),
    _HANDLER: 'index.handler',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    // The runtime's SDK (/var/runtime/node_modules on Lambda): the same packages, from this repository.
    NODE_PATH: projectPath('node_modules'),
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The bundle's init in a fresh process: milliseconds from the start of `require(bundle)` to its return. */
export async function measureInitOnce(bundle: LambdaBundle): Promise<number> {
  const script = `const t0 = performance.now(); require(${JSON.stringify(bundle.file)}); process.stdout.write(String(performance.now() - t0));`;
  const { stdout } = await run(process.execPath, ['-e', script], { env: lambdaLikeEnvironment(bundle), timeout: 30_000 });
  const ms = Number(stdout.trim().split('\n').pop());
  if (!Number.isFinite(ms)) throw new Error(`${bundle.name}: the init measurement printed ${JSON.stringify(stdout.slice(-200))}`);
  return ms;
}

export interface LambdaFigure {
  name: string;
  entry: string;
  bundleBytes: number;
  bundleKiB: number;
  /** Median of `runs` (ms). */
  initMs: number;
  initRunsMs: number[];
  pass: { bundle: boolean; init: boolean };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Synthesizes the app and measures every function: size, and the median init of `runs` fresh processes. */
export async function measureLambdaBundles(runs = 5, progress: (line: string) => void = () => undefined): Promise<LambdaFigure[]> {
  progress('lambda: synthesizing the app with esbuild bundling...');
  const synth = synthesizeLambdaBundles();
  try {
    // One load first, not counted: it brings the SDK's files into the page cache, so that the first function
    // measured does not pay for that alone.
    await measureInitOnce(synth.bundles[0]!);
    const figures: LambdaFigure[] = [];
    for (const bundle of synth.bundles) {
      const bundleBytes = statSync(bundle.file).size;
      const initRunsMs: number[] = [];
      for (let i = 0; i < runs; i++) initRunsMs.push(await measureInitOnce(bundle));
      const initMs = median(initRunsMs);
      const bundleKiB = bundleBytes / 1024;
      figures.push({
        name: bundle.name,
        entry: bundle.entry,
        bundleBytes,
        bundleKiB: Math.round(bundleKiB * 10) / 10,
        initMs: Math.round(initMs),
        initRunsMs: initRunsMs.map((ms) => Math.round(ms * 10) / 10),
        pass: { bundle: bundleKiB <= LAMBDA_TARGETS.bundleKiB, init: initMs <= LAMBDA_TARGETS.initMs },
      });
      progress(`lambda: ${bundle.name} ${bundleKiB.toFixed(1)} KiB, init ${initMs.toFixed(0)} ms`);
    }
    return figures;
  } finally {
    synth.dispose();
  }
}

/** The Markdown table bench/run.ts prints. */
export function lambdaTable(figures: readonly LambdaFigure[]): string[] {
  const mark = (ok: boolean) => (ok ? 'pass' : 'FAIL');
  return [
    `| function | handler | bundle KiB (<= ${LAMBDA_TARGETS.bundleKiB}) | cold init ms, median (<= ${LAMBDA_TARGETS.initMs}) | runs ms | size | init |`,
    '|---|---|---|---|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.name} | ${f.entry} | ${f.bundleKiB.toFixed(1)} | ${f.initMs} | ${f.initRunsMs.map((ms) => ms.toFixed(0)).join(' ')} | ${mark(f.pass.bundle)} | ${mark(f.pass.init)} |`,
    ),
  ];
}
