/**
 * The functions' observability pieces on their own: the figures mark-uploaded reports, where the same
 * handler code logs and publishes metrics (Lambda) and where it keeps quiet (local mode, which hosts every
 * handler in one long-lived process), and the `semver` stand-in the Lambda bundles use. The bundles
 * themselves are checked end to end in test/infra/lambda-bundles.test.ts.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { uploadedFigures } from '../../functions/core/recording-metrics.ts';
import { newRecording, type Recording } from '../../functions/core/recording.ts';
import { gte } from '../../functions/shims/semver.ts';

const run = promisify(execFile);

function uploaded(patch: Partial<Recording>): Recording {
  const base = newRecording({ id: 'rec_1', tenantId: 't', meetingId: 'm', meetingUrl: 'https://meet.example.com/x', now: '2026-01-01T00:00:00.000Z' });
  return { ...base, status: 'UPLOADED', ...patch };
}

describe('uploadedFigures', () => {
  it('an API stop: duration from the first frame to the stop, latency from the stop request to the upload', () => {
    const figures = uploadedFigures(
      uploaded({
        startedAt: '2026-01-01T00:00:10.000Z',
        stopRequestedAt: '2026-01-01T00:01:10.250Z',
        stoppedAt: '2026-01-01T00:01:10.250Z',
        uploadedAt: '2026-01-01T00:01:11.000Z',
        stopReason: 'api',
      }),
    );
    expect(figures).toEqual({ durationSeconds: 60.25, stopToUploadedSeconds: 0.75 });
  });

  it('a stop without a request (max duration, task stopped) counts from the instant the recorder stopped', () => {
    const figures = uploadedFigures(
      uploaded({ startedAt: '2026-01-01T00:00:00.000Z', stoppedAt: '2026-01-01T00:00:30.000Z', uploadedAt: '2026-01-01T00:00:32.500Z', stopReason: 'max_duration' }),
    );
    expect(figures).toEqual({ durationSeconds: 30, stopToUploadedSeconds: 2.5 });
  });

  it('leaves out a figure whose timestamps are missing or out of order rather than guess', () => {
    expect(uploadedFigures(uploaded({ stoppedAt: '2026-01-01T00:00:30.000Z', uploadedAt: '2026-01-01T00:00:29.000Z', stopReason: 'task_stopped' }))).toEqual({});
  });
});

/** Runs a handler wrapped by observed() in a fresh process (the module reads its environment once). */
async function runObserved(env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  const moduleUrl = (path: string) => JSON.stringify(new URL(`../../${path}`, import.meta.url).href);
  const script = `
    const { observed, logger } = await import(${moduleUrl('functions/core/observability.ts')});
    const { reportRecordingStarted } = await import(${moduleUrl('functions/core/recording-metrics.ts')});
    const handler = observed(async () => {
      reportRecordingStarted({ id: 'rec_1', tenantId: 'acme', meetingId: 'm' });
      logger.warn('something odd');
      return 'done';
    });
    await handler({}, { functionName: 'f', awsRequestId: 'req-1' });
    await handler({}, { functionName: 'f', awsRequestId: 'req-2' });`;
  return run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('observed() handlers', () => {
  it('on Lambda: INFO lines with the recording keys, cleared between invocations, and one EMF document per invocation', async () => {
    const { stdout, stderr } = await runObserved({ AWS_LAMBDA_FUNCTION_NAME: 'f', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_NAMESPACE: 'MeetingRecorder' });
    const lines = jsonLines(`${stdout}\n${stderr}`);
    const started = lines.filter((l) => l.message === 'recording started');
    expect(started.map((l) => l.function_request_id)).toEqual(['req-1', 'req-2']);
    expect(started[0]).toMatchObject({ level: 'INFO', recordingId: 'rec_1', tenantId: 'acme', service: 'meeting-recorder' });
    const emf = lines.filter((l) => l._aws);
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ service: 'meeting-recorder', RecordingsStarted: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'MeetingRecorder', Dimensions: [['service']] }] } });
  });

  it('on Lambda, keys appended in one invocation are gone in the next', async () => {
    const script = `
      const { observed, logger } = await import(${JSON.stringify(new URL('../../functions/core/observability.ts', import.meta.url).href)});
      const handler = observed(async (event) => { if (event.id) logger.appendKeys({ recordingId: event.id }); logger.info('hello'); });
      await handler({ id: 'rec_1' }, { functionName: 'f' });
      await handler({}, { functionName: 'f' });`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, AWS_LAMBDA_FUNCTION_NAME: 'f' } });
    expect(jsonLines(stdout).map((l) => l.recordingId)).toEqual(['rec_1', undefined]);
  });

  it('locally: only WARN and above, and no EMF on stdout', async () => {
    const { stdout, stderr } = await runObserved({});
    const lines = jsonLines(`${stdout}\n${stderr}`);
    expect(lines.map((l) => l.message)).toEqual(['something odd', 'something odd']);
    expect(`${stdout}${stderr}`).not.toContain('_aws');
  });

  it('locally, POWERTOOLS_METRICS_DISABLED=false and POWERTOOLS_LOG_LEVEL bring them back', async () => {
    const { stdout, stderr } = await runObserved({ POWERTOOLS_METRICS_DISABLED: 'false', POWERTOOLS_LOG_LEVEL: 'INFO' });
    const lines = jsonLines(`${stdout}\n${stderr}`);
    expect(lines.filter((l) => l.message === 'recording started')).toHaveLength(2);
    expect(lines.filter((l) => l._aws)).toHaveLength(2);
  });
});

describe('the semver stand-in in the Lambda bundles', () => {
  // The copies it replaces: the X-Ray SDK's own (7.x) and cls-hooked's (5.x), as each resolves them.
  type Semver = { gte(a: string, b: string): boolean };
  const require = createRequire(import.meta.url);
  const xray = require.resolve('aws-xray-sdk-core');
  const copies: Record<string, Semver> = {
    'aws-xray-sdk-core': createRequire(xray)('semver'),
    'cls-hooked': createRequire(createRequire(xray).resolve('cls-hooked'))('semver'),
  };

  it.each(Object.keys(copies))('answers gte as the semver that %s loads does', (name) => {
    const versions = ['0.0.0', '1.2.3', 'v1.2.3', '1.2.4', '1.10.0', '2.0.0-rc.1', '2.0.0', '2.0.0+build.5', '8.0.0', '22.23.3', '10.0.0-alpha', '10.0.0-beta'];
    for (const a of versions) for (const b of versions) expect(gte(a, b), `${a} >= ${b}`).toBe(copies[name]!.gte(a, b));
    expect(() => copies[name]!.gte('banana', '1.0.0')).toThrow(TypeError);
    expect(() => gte('banana', '1.0.0')).toThrow(TypeError);
  });
});
