/**
 * The recorder's log lines and metrics: JSON lines with the key names the Lambda functions' Powertools
 * Logger writes (checked against Powertools itself), EMF documents that follow the embedded metric format
 * (checked member by member, and against the directive Powertools Metrics writes), the metrics' interval
 * arithmetic, the uploader's lag, and the ECS task id lookup.
 */
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ecsTaskId } from '../../recorder-image/src/ecs-metadata.ts';
import { createLogger } from '../../recorder-image/src/log.ts';
import { MediaUploader } from '../../recorder-image/src/media-uploader.ts';
import { emfDocument, METRICS_NAMESPACE, RecorderMetrics, type MetricSources } from '../../recorder-image/src/metrics.ts';
import { assertValidEmf } from '../support/recorder-log.ts';

afterEach(() => vi.restoreAllMocks());

function captured() {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** What a Powertools Logger in the functions writes for one INFO line with the same correlation keys. */
function powertoolsLine(): Record<string, unknown> {
  const written: string[] = [];
  const collect = (chunk: unknown) => (written.push(String(chunk)), true);
  vi.spyOn(process.stdout, 'write').mockImplementation(collect);
  vi.spyOn(process.stderr, 'write').mockImplementation(collect);
  const logger = new PowertoolsLogger({ serviceName: 'recorder' });
  logger.appendKeys({ recordingId: 'rec_1', tenantId: 'acme' });
  logger.info('hello');
  vi.restoreAllMocks();
  return JSON.parse(written.join('').trim());
}

describe('recorder log lines', () => {
  it('are one JSON object per line with the Powertools key names, correlation keys and levels', () => {
    // Prepare
    const out = captured();
    const log = createLogger({ service: 'recorder', recordingId: 'rec_1', ecsTaskId: 'abc123' }, out.write, () => new Date('2026-01-02T03:04:05.678Z'));

    // Act
    log.info('before the recording is read');
    log.appendKeys({ tenantId: 'acme' });
    log.warn('multi\nline', { attempt: 2 });
    log.error('failed', { error: new Error('boom') });

    // Assess
    expect(out.lines).toHaveLength(3);
    for (const line of out.lines) expect(line).not.toContain('\n');
    const [first, second, third] = out.parsed();
    expect(Object.keys(first!).slice(0, 4)).toEqual(['level', 'message', 'timestamp', 'service']);
    expect(first).toEqual({ level: 'INFO', message: 'before the recording is read', timestamp: '2026-01-02T03:04:05.678Z', service: 'recorder', recordingId: 'rec_1', ecsTaskId: 'abc123' });
    expect(second).toMatchObject({ level: 'WARN', message: 'multi\nline', recordingId: 'rec_1', tenantId: 'acme', attempt: 2 });
    expect(third).toMatchObject({ level: 'ERROR', tenantId: 'acme', error: { name: 'Error', message: 'boom', stack: expect.stringContaining('boom') } });
  });

  it('use the same key names and level names as the functions’ Powertools Logger', () => {
    // Prepare
    const reference = powertoolsLine();
    const out = captured();

    // Act
    createLogger({ service: 'recorder', recordingId: 'rec_1', tenantId: 'acme' }, out.write).info('hello');

    // Assess
    const ours = out.parsed()[0]!;
    expect(Object.keys(ours)).toEqual(expect.arrayContaining(['level', 'message', 'timestamp', 'service', 'recordingId', 'tenantId']));
    for (const key of Object.keys(ours)) expect(reference, `Powertools writes ${key} too`).toHaveProperty(key);
    expect(ours.level).toBe(reference.level);
    expect(Object.keys(ours).slice(0, 4)).toEqual(Object.keys(reference).slice(0, 4));
    expect(Number.isNaN(Date.parse(String(ours.timestamp)))).toBe(false);
    expect(String(ours.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(String(reference.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('include the recorder process’s own failure to start (a missing environment variable), as JSON on stderr', async () => {
    // Prepare
    const main = fileURLToPath(new URL('../../recorder-image/src/main.ts', import.meta.url));

    // Act
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--disable-warning=ExperimentalWarning', main], { env: { PATH: process.env.PATH }, timeout: 30_000 }, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr }),
      );
    });

    // Assess
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'ERROR', service: 'recorder', message: expect.stringContaining('RECORDING_ID') });
  });

  it('keep the reserved keys and never throw on fields JSON cannot hold', () => {
    // Prepare
    const out = captured();
    const log = createLogger({ service: 'recorder', recordingId: 'rec_1' }, out.write);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;

    // Act
    log.info('real message', { level: 'DEBUG', message: 'spoofed', service: 'other', timestamp: 'never', size: 10n });
    log.appendKeys({ service: 'other' });
    log.warn('cyclic', { cycle });

    // Assess
    const [spoofed, cyclic] = out.parsed();
    expect(spoofed).toMatchObject({ level: 'INFO', message: 'real message', service: 'recorder', size: '10' });
    expect(spoofed!.timestamp).not.toBe('never');
    expect(cyclic).toMatchObject({ level: 'WARN', message: 'cyclic', service: 'recorder', recordingId: 'rec_1', logError: expect.stringContaining('not serializable') });
  });
});

describe('recorder metrics (EMF)', () => {
  function sources(state: { frame: number; drop: number; dup: number; repeated?: number; lagSeconds: number; lagBytes: number; retries: number }): MetricSources {
    return {
      frames: () => ({ frame: state.frame, outTimeSeconds: 0, dropFrames: state.drop, dupFrames: state.dup }),
      repeatedFrames: () => state.repeated ?? 0,
      uploadLag: () => ({ seconds: state.lagSeconds, bytes: state.lagBytes }),
      uploadRetries: () => state.retries,
    };
  }

  it('are valid EMF documents in the MeetingRecorder namespace with the service dimension only, in the log line', () => {
    // Prepare
    const out = captured();
    const log = createLogger({ service: 'recorder', recordingId: 'rec_1', tenantId: 'acme' }, out.write);
    let now = Date.UTC(2026, 0, 2, 3, 4, 5);
    const state = { frame: 1800, drop: 2, dup: 3, repeated: 7, lagSeconds: 2.5, lagBytes: 400_000, retries: 0 };
    const metrics = new RecorderMetrics({ sources: sources(state), log, intervalMs: 60_000, now: () => now });

    // Act
    now += 60_000;
    metrics.flush(false);

    // Assess
    const doc = out.parsed()[0]!;
    const directive = assertValidEmf(doc);
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(METRICS_NAMESPACE).toBe('MeetingRecorder');
    expect(directive.Dimensions).toEqual([['service']]);
    expect((directive.Metrics as { Name: string }[]).map((m) => m.Name)).toEqual(['FramesCaptured', 'FramesDropped', 'FramesDuplicated', 'FramesRepeated', 'UploadLagSeconds', 'UploadLagBytes', 'UploadRetries']);
    expect((doc._aws as { Timestamp: number }).Timestamp).toBe(now);
    expect(doc).toMatchObject({
      level: 'INFO', message: 'recorder metrics', service: 'recorder', recordingId: 'rec_1', tenantId: 'acme',
      FramesCaptured: 1800, FramesDropped: 2, FramesDuplicated: 3, FramesRepeated: 7, UploadLagSeconds: 2.5, UploadLagBytes: 400_000, UploadRetries: 0,
      intervalSeconds: 60, final: false,
    });
  });

  it('carry the same metric directive shape as Powertools Metrics in the functions', () => {
    // Prepare
    const reference = new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'recorder' });
    reference.addMetric('FramesCaptured', MetricUnit.Count, 5);

    // Act
    const theirs = reference.serializeMetrics() as unknown as Record<string, unknown>;
    const ours = emfDocument({ namespace: METRICS_NAMESPACE, dimensions: { service: 'recorder' }, metrics: [{ name: 'FramesCaptured', unit: 'Count', value: 5 }], timestampMs: Date.now() });

    // Assess
    const theirDirective = assertValidEmf(theirs);
    const ourDirective = assertValidEmf(ours);
    expect(ourDirective).toEqual(theirDirective);
    expect(ours.service).toBe(theirs.service);
    expect(ours.FramesCaptured).toBe(theirs.FramesCaptured);
  });

  it('report counters per interval, the largest lag sampled in it, and a final document once', () => {
    // Prepare
    const out = captured();
    const log = createLogger({ service: 'recorder' }, out.write);
    let now = 1_000_000;
    const state = { frame: 0, drop: 0, dup: 0, lagSeconds: 0, lagBytes: 0, retries: 0 };
    const metrics = new RecorderMetrics({ sources: sources(state), log, now: () => now });

    // Act: a first interval with an outage peak, a second one after pausing (no frames), the end.
    Object.assign(state, { frame: 900, drop: 1, repeated: 2, lagSeconds: 12, lagBytes: 3_000_000, retries: 4 });
    metrics.sample();
    Object.assign(state, { frame: 1800, repeated: 6, lagSeconds: 3, lagBytes: 500_000, retries: 5 });
    now += 60_000;
    metrics.flush(false);
    Object.assign(state, { lagSeconds: 1, lagBytes: 1000 });
    now += 30_000;
    metrics.stop();
    metrics.stop();

    // Assess
    const [first, second, ...rest] = out.parsed();
    expect(first).toMatchObject({ FramesCaptured: 1800, FramesDropped: 1, FramesRepeated: 6, UploadLagSeconds: 12, UploadLagBytes: 3_000_000, UploadRetries: 5, intervalSeconds: 60, final: false });
    expect(second).toMatchObject({ FramesCaptured: 0, FramesDropped: 0, FramesRepeated: 0, UploadLagSeconds: 1, UploadLagBytes: 1000, UploadRetries: 0, intervalSeconds: 30, final: true });
    expect(rest).toEqual([]);
  });

  it('log a warning instead of throwing when a source fails', () => {
    // Prepare
    const out = captured();
    const log = createLogger({ service: 'recorder' }, out.write);
    const metrics = new RecorderMetrics({
      sources: { frames: () => { throw new Error('no encoder'); }, repeatedFrames: () => 0, uploadLag: () => ({ seconds: 0, bytes: 0 }), uploadRetries: () => 0 },
      log,
    });

    // Act / Assess
    expect(() => metrics.stop()).not.toThrow();
    expect(out.parsed()).toEqual([expect.objectContaining({ level: 'WARN', message: 'could not write metrics', error: 'no encoder' })]);
  });
});

describe('upload lag', () => {
  const box = (type: string, size: number) => {
    const b = Buffer.alloc(size);
    b.writeUInt32BE(size, 0);
    b.write(type, 4, 'latin1');
    return b;
  };

  it('is what the encoder wrote that is not in S3 yet: it grows while S3 fails and drops once a segment lands', async () => {
    // Prepare: an S3 that fails PutObject until told otherwise.
    let s3Up = false;
    const s3 = {
      send: vi.fn(async (command: { constructor: { name: string } }) => {
        const name = command.constructor.name;
        if (name === 'CreateMultipartUploadCommand') return { UploadId: 'u1' };
        if (name === 'PutObjectCommand' && !s3Up) throw new Error('S3 unreachable');
        if (name === 'ListObjectsV2Command') return { Contents: [] };
        return {};
      }),
    };
    let mediaSeconds = 0;
    const source = new PassThrough();
    const uploader = new MediaUploader(
      {
        s3: s3 as never,
        bucket: 'b',
        key: 'recordings/t/rec_1/recording.mp4',
        recordingId: 'rec_1',
        manifests: { save: async () => undefined },
        log: createLogger({ service: 'recorder' }, () => undefined),
        mediaSeconds: () => mediaSeconds,
        segmentIntervalMs: 20,
      },
      source,
    );
    const waitFor = async (check: () => boolean) => {
      for (const deadline = Date.now() + 5000; !check() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      return check();
    };

    // Act: the file's header and one fragment, while S3 fails.
    source.write(Buffer.concat([box('ftyp', 24), box('moov', 100)]));
    source.write(Buffer.concat([box('moof', 50), box('mdat', 1000)]));
    mediaSeconds = 2;
    await waitFor(() => s3.send.mock.calls.some(([c]) => c.constructor.name === 'PutObjectCommand'));
    const whileDown = uploader.lag();
    s3Up = true;
    const recovered = await waitFor(() => uploader.lag().bytes === 0);
    const afterSegment = uploader.lag();
    source.write(box('moof', 50));
    const partial = uploader.lag();

    // Assess
    expect(whileDown).toEqual({ bytes: 1174, seconds: 2 });
    expect(recovered).toBe(true);
    expect(afterSegment).toEqual({ bytes: 0, seconds: 0 });
    expect(partial.bytes).toBe(50);
    await uploader.abort();
  });
});

describe('ECS task id', () => {
  it('comes from the task metadata endpoint’s TaskARN, and is undefined without the endpoint or on a bad answer', async () => {
    // Prepare
    const env = { ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc-123' };
    const answer = (body: unknown, status = 200) => vi.fn(async () => new Response(JSON.stringify(body), { status }));
    const good = answer({ TaskARN: 'arn:aws:ecs:eu-west-1:111122223333:task/recorders/0123456789abcdef0123456789abcdef' });

    // Act / Assess
    expect(await ecsTaskId(env, { fetch: good })).toBe('0123456789abcdef0123456789abcdef');
    expect(good).toHaveBeenCalledWith('http://169.254.170.2/v4/abc-123/task', expect.anything());
    expect(await ecsTaskId({}, { fetch: good })).toBeUndefined();
    expect(await ecsTaskId(env, { fetch: answer({}, 500) })).toBeUndefined();
    expect(await ecsTaskId(env, { fetch: answer({ Cluster: 'x' }) })).toBeUndefined();
    expect(await ecsTaskId(env, { fetch: vi.fn(async () => { throw new Error('timeout'); }) })).toBeUndefined();
  });
});
