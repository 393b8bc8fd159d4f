/**
 * The Lambda artifacts `cdk deploy` would upload actually serve requests: the esbuild bundles from a real
 * synth are loaded in a fresh Node process, as the Lambda runtime loads them (with the external AWS SDK
 * through NODE_PATH and the function's own environment from the template), and invoked against the local
 * stack's emulators and Step Functions stand-in (the AWS control plane is the only thing not reached).
 *
 * The same invocations check the functions' Powertools output: JSON log lines with the recording's ids,
 * CloudWatch EMF metrics, and X-Ray subsegments sent to a stand-in daemon. Bundle sizes are checked here
 * as a bound; their cold init time is measured by the bench (bench/lambda-bundles.ts), not asserted.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_TARGETS, lambdaLikeEnvironment, synthesizeLambdaBundles, type LambdaBundle, type SynthesizedBundles } from '../../bench/lambda-bundles.ts';
import { ENV } from '../../functions/core/config.ts';
import { OBSERVABILITY } from '../../functions/core/observability-config.ts';
import { ROUTES, WORKFLOW_TASKS } from '../../functions/routes.ts';
import { closedPort } from '../support/net.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const run = promisify(execFile);
const RESULT_MARK = '@@handler-result ';
let t: TestStack;
let synth: SynthesizedBundles;
let bundles: Map<string, LambdaBundle>;

beforeAll(async () => {
  // Prepare: synthesize the deployable app with real bundling, and map each function to its bundle.
  synth = synthesizeLambdaBundles();
  bundles = new Map(synth.bundles.map((b) => [b.name, b]));
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
  synth?.dispose();
});

interface Invocation {
  result: any;
  /** Every JSON line the function printed (log lines and EMF documents), stdout then stderr. */
  lines: Record<string, any>[];
  output: string;
}

/** Invokes a bundle's handler in a new process, with its environment and the local stack's endpoints. */
async function invoke(functionName: string, event: unknown, extraEnv: Record<string, string> = {}): Promise<Invocation> {
  const bundle = bundles.get(functionName);
  expect(bundle, `no bundle for ${functionName}; have ${[...bundles.keys()].join(', ')}`).toBeDefined();
  const script = `const { handler } = require(${JSON.stringify(bundle!.file)});
    const context = { functionName: ${JSON.stringify(functionName)}, awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', memoryLimitInMB: '256', functionVersion: '$LATEST', getRemainingTimeInMillis: () => 10000 };
    handler(JSON.parse(process.env.EVENT), context).then((result) => process.stdout.write('\\n${RESULT_MARK}' + JSON.stringify(result) + '\\n'));`;
  const env = lambdaLikeEnvironment(bundle!, {
    EVENT: JSON.stringify(event),
    [ENV.tableName]: t.stack.tableName,
    [ENV.bucketName]: t.stack.bucketName,
    [ENV.stateMachineArn]: t.stack.stepFunctions.stateMachineArn,
    [ENV.dynamodbEndpoint]: process.env[ENV.dynamodbEndpoint],
    [ENV.s3Endpoint]: process.env[ENV.s3Endpoint],
    [ENV.sfnEndpoint]: process.env[ENV.sfnEndpoint],
    [ENV.s3ForcePathStyle]: 'true',
    // The test pages are served on loopback, which the SSRF policy refuses unless allowlisted.
    [ENV.allowedHosts]: '127.0.0.1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    // No X-Ray daemon unless a test brings one: tracing off, as POWERTOOLS_TRACE_ENABLED allows.
    POWERTOOLS_TRACE_ENABLED: 'false',
    ...extraEnv,
  });
  const { stdout, stderr } = await run(process.execPath, ['-e', script], { env, timeout: 30_000 });
  const resultLine = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  expect(resultLine, `no result; output:\n${stdout}\n${stderr}`).toBeDefined();
  const lines = `${stdout}\n${stderr}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
  return { result: JSON.parse(resultLine!.slice(RESULT_MARK.length)), lines, output: `${stdout}\n${stderr}` };
}

const httpEvent = (method: string, rawPath: string, pathParameters?: Record<string, string>, body?: unknown) => ({
  version: '2.0',
  routeKey: `${method} ${rawPath}`,
  rawPath,
  rawQueryString: '',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${t.stack.apiKey}` },
  pathParameters,
  body: body === undefined ? undefined : JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { http: { method, path: rawPath } },
});

/** The EMF documents among the lines: name -> value, for the service's namespace. */
function emfMetrics(lines: Record<string, any>[]): { metrics: Record<string, number>; documents: Record<string, any>[] } {
  const documents = lines.filter((l) => l._aws?.CloudWatchMetrics);
  const metrics: Record<string, number> = {};
  for (const doc of documents) {
    for (const directive of doc._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(OBSERVABILITY.metricsNamespace);
      expect(directive.Dimensions).toEqual([['service']]);
      for (const m of directive.Metrics) metrics[m.Name] = doc[m.Name];
    }
    expect(doc.service).toBe(OBSERVABILITY.serviceName);
  }
  return { metrics, documents };
}

describe('deployed Lambda bundles', () => {
  it('has one bundle per API route and workflow task, besides the event functions', () => {
    const entries = synth.bundles.map((b) => b.entry);
    const expected = [...ROUTES.map((r) => `functions/handlers/${r.handler}.ts`), ...Object.values(WORKFLOW_TASKS).map((h) => `functions/tasks/${h}.ts`)];
    expect(entries.filter((e) => e.startsWith('functions/handlers/')).sort()).toEqual(expected.filter((e) => e.startsWith('functions/handlers/')).sort());
    for (const entry of expected) expect(entries).toContain(entry);
  });

  it(`every bundle is at most ${LAMBDA_TARGETS.bundleKiB} KiB minified (the AWS SDK clients are the runtime's)`, () => {
    for (const bundle of synth.bundles) {
      const kib = statSync(bundle.file).size / 1024;
      expect(kib, `${bundle.name} (${bundle.entry}) is ${kib.toFixed(1)} KiB`).toBeLessThanOrEqual(LAMBDA_TARGETS.bundleKiB);
    }
  });

  it('create-recording starts a real workflow, and get-recording reads it back', async () => {
    const created = await invoke('CreateRecordingFunction', httpEvent('POST', '/v1/recordings', undefined, { meetingUrl: `http://127.0.0.1:${await closedPort()}/` }));
    expect(created.result.statusCode).toBe(201);
    const recording = JSON.parse(created.result.body);
    expect(recording.status).toBe('INVOKED');
    // The local Step Functions ran the recorder, which could not load the page.
    const ended = await t.api.waitFor(recording.id, ['ERRORED'], 30_000);
    expect(ended.error?.code).toBe('page_connection_refused');
    const read = await invoke('GetRecordingFunction', httpEvent('GET', `/v1/recordings/${recording.id}`, { id: recording.id }));
    expect(read.result.statusCode).toBe(200);
    expect(JSON.parse(read.result.body)).toMatchObject({ id: recording.id, status: 'ERRORED' });
  });

  it('bad input gets problem+json from the bundle, as from the source', async () => {
    const res = await invoke('CreateRecordingFunction', httpEvent('POST', '/v1/recordings', undefined, { meetingUrl: 'nope' }));
    expect(res.result.statusCode).toBe(400);
    expect(res.result.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.result.body)).toMatchObject({ code: 'validation_failed', errors: [{ field: 'meetingUrl' }] });
    // No metric for a recording that was not started, and no empty EMF document either.
    expect(emfMetrics(res.lines).documents).toEqual([]);
    const stop = await invoke('StopRecordingFunction', httpEvent('POST', '/v1/recordings/x/stop', { id: 'x' }));
    expect(stop.result.statusCode).toBe(404);
  });

  it('the workflow task bundles are idempotent on a finished recording, and count nothing twice', async () => {
    const created = await t.api.create(`http://127.0.0.1:${await closedPort()}/`);
    await t.api.waitFor(created.body.id, ['ERRORED'], 30_000);
    const out = await invoke('MarkErroredFunction', { recordingId: created.body.id, failure: { Error: 'States.HeartbeatTimeout', Cause: '' } });
    expect(out.result).toEqual({ recordingId: created.body.id, status: 'ERRORED' });
    expect((await t.api.get(created.body.id)).body.error?.code).toBe('page_connection_refused');
    expect(emfMetrics(out.lines).metrics).toEqual({});
  });
});

describe('Powertools in the deployed bundles', () => {
  it('create-recording logs JSON with the recording and tenant ids, counts RecordingsStarted, and never logs the API key', async () => {
    // Act
    const created = await invoke('CreateRecordingFunction', httpEvent('POST', '/v1/recordings', undefined, { meetingUrl: `http://127.0.0.1:${await closedPort()}/` }));
    // Assess
    expect(created.result.statusCode).toBe(201);
    const id = JSON.parse(created.result.body).id;
    const started = created.lines.find((l) => l.message === 'recording started');
    expect(started).toMatchObject({
      level: 'INFO',
      service: OBSERVABILITY.serviceName,
      recordingId: id,
      tenantId: t.stack.tenantId,
      function_name: 'CreateRecordingFunction',
      function_request_id: 'req-1',
      cold_start: true,
    });
    expect(emfMetrics(created.lines).metrics).toEqual({ RecordingsStarted: 1 });
    expect(created.output).not.toContain(t.stack.apiKey);
    await t.api.waitFor(id, ['ERRORED'], 30_000);
  });

  it('mark-uploaded reports RecordingDuration and StopToUploadedLatency from the recording item, once', async () => {
    // Prepare: a live recording that started 42.5 s before the client's stop request.
    const repository = t.stack.repository;
    const seeded = await seedRecording(repository, t.stack.tenantId, { status: 'RECORDING' });
    const stopRequested = await repository.requestStop(seeded.id);
    const stopRequestedAt = stopRequested!.stopRequestedAt!;
    const startedAt = new Date(Date.parse(stopRequestedAt) - 42_500).toISOString();
    const result = { files: [{ key: `recordings/${seeded.id}/recording.mp4`, sizeBytes: 1000, durationSeconds: 42.5, format: 'mp4' }], stopReason: 'api', startedAt, stoppedAt: stopRequestedAt, metrics: {} };

    // Act
    const out = await invoke('MarkUploadedFunction', { recordingId: seeded.id, result });

    // Assess: the figures follow from the item's own timestamps.
    expect(out.result).toEqual({ recordingId: seeded.id, status: 'UPLOADED' });
    const item = (await repository.find(seeded.id))!;
    expect(item.stopRequestedAt).toBe(stopRequestedAt);
    const expectedLatency = (Date.parse(item.uploadedAt!) - Date.parse(stopRequestedAt)) / 1000;
    expect(expectedLatency).toBeGreaterThan(0);
    expect(emfMetrics(out.lines).metrics).toEqual({ RecordingDuration: 42.5, StopToUploadedLatency: expectedLatency });
    const units = Object.fromEntries(emfMetrics(out.lines).documents[0]._aws.CloudWatchMetrics[0].Metrics.map((m: any) => [m.Name, m.Unit]));
    expect(units).toEqual({ RecordingDuration: 'Seconds', StopToUploadedLatency: 'Seconds' });
    expect(out.lines.find((l) => l.message === 'recording uploaded')).toMatchObject({ recordingId: seeded.id, tenantId: t.stack.tenantId, durationSeconds: 42.5 });

    // A retry of the task (Step Functions may retry) finds it UPLOADED and counts nothing again.
    const retry = await invoke('MarkUploadedFunction', { recordingId: seeded.id, result });
    expect(retry.result.status).toBe('UPLOADED');
    expect(emfMetrics(retry.lines).metrics).toEqual({});
  });

  it('mark-errored counts RecordingsErrored and logs the error with the recording id', async () => {
    const seeded = await seedRecording(t.stack.repository, t.stack.tenantId, { status: 'RECORDING' });
    const out = await invoke('MarkErroredFunction', { recordingId: seeded.id, failure: { Error: 'States.HeartbeatTimeout', Cause: '' } });
    expect(out.result).toEqual({ recordingId: seeded.id, status: 'ERRORED' });
    expect(emfMetrics(out.lines).metrics).toEqual({ RecordingsErrored: 1 });
    expect(out.lines.find((l) => l.message === 'recording errored')).toMatchObject({ level: 'WARN', recordingId: seeded.id, tenantId: t.stack.tenantId, error: { code: 'recorder_lost' } });
  });

  describe('with an X-Ray daemon', () => {
    let daemon: Socket;
    const datagrams: string[] = [];
    beforeAll(async () => {
      daemon = createSocket('udp4');
      daemon.on('message', (msg) => datagrams.push(msg.toString('utf8')));
      await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    });
    afterAll(() => daemon?.close());

    it("get-recording's DynamoDB calls are subsegments of the handler's, in the invocation's trace", async () => {
      // Prepare
      const seeded = await seedRecording(t.stack.repository, t.stack.tenantId, { status: 'RECORDING' });
      const traceId = `1-${Math.floor(Date.now() / 1000).toString(16)}-${'0123456789abcdef01234567'}`;
      // Act
      const read = await invoke('GetRecordingFunction', httpEvent('GET', `/v1/recordings/${seeded.id}`, { id: seeded.id }), {
        POWERTOOLS_TRACE_ENABLED: 'true',
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
        _X_AMZN_TRACE_ID: `Root=${traceId};Parent=53995c3f42cd8ad8;Sampled=1`,
      });
      // Assess
      expect(read.result.statusCode).toBe(200);
      await expect.poll(() => datagrams.length, { timeout: 5000 }).toBeGreaterThan(0);
      // Each datagram is a header line and a segment document.
      const segments = datagrams.map((d) => JSON.parse(d.slice(d.indexOf('\n') + 1)) as Record<string, any>).filter((s) => s.trace_id === traceId);
      const flatten = (s: Record<string, any>): Record<string, any>[] => [s, ...(s.subsegments ?? []).flatMap(flatten)];
      const all = segments.flatMap(flatten);
      const handler = all.find((s) => s.name === '## index.handler');
      expect(handler, JSON.stringify(segments).slice(0, 2000)).toBeDefined();
      expect(handler!.annotations).toMatchObject({ ColdStart: true, Service: OBSERVABILITY.serviceName });
      // The response (on other routes it holds tokens, webhook secrets, presigned URLs) is not copied into the trace.
      expect(JSON.stringify(handler!.metadata ?? {})).not.toContain('response');
      expect(JSON.stringify(segments)).not.toContain(t.stack.apiKey);
      const dynamo = all.filter((s) => s.namespace === 'aws' && s.name === 'DynamoDB');
      expect(dynamo.map((s) => s.aws?.operation)).toEqual(expect.arrayContaining(['GetItem']));
    });
  });
});
