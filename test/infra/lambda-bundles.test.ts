/**
 * The Lambda artifacts `cdk deploy` would upload actually serve requests: the esbuild bundles from a real
 * synth are loaded in a fresh Node process and invoked against the local stack's emulators and Step
 * Functions stand-in (the AWS control plane is the only thing not reached).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/config.ts';
import { ROUTES, WORKFLOW_TASKS } from '../../functions/routes.ts';
import { MeetingRecorderStack } from '../../lib/meeting-recorder-stack.ts';
import { closedPort } from '../support/net.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const run = promisify(execFile);
let t: TestStack;
let bundles: Map<string, string>;
let outdir: string;

beforeAll(async () => {
  // Prepare: synthesize the deployable app with real bundling, and map each function to its bundle.
  const app = new App();
  const stack = new MeetingRecorderStack(app, 'MeetingRecorder');
  const template = Template.fromStack(stack);
  outdir = app.synth().directory;
  bundles = new Map();
  for (const [logicalId, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const key: string | undefined = fn.Properties.Code?.S3Key;
    // Logical ids look like RecordingServiceApiCreateRecordingFunctionEAC37BFF.
    const name = /^RecordingService(?:Api|Workflow)(\w+Function)[0-9A-F]{8}$/.exec(logicalId)?.[1];
    if (name && key) bundles.set(name, join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs'));
  }
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** Invokes a bundle's handler in a new process, with the functions' environment contract. */
async function invoke(functionName: string, event: unknown): Promise<any> {
  const file = bundles.get(functionName);
  expect(file, `no bundle for ${functionName}; have ${[...bundles.keys()].join(', ')}`).toBeDefined();
  const script = `const { handler } = await import(${JSON.stringify(file)});
    const result = await handler(JSON.parse(process.env.EVENT), { getRemainingTimeInMillis: () => 10000, functionName: 'f' });
    process.stdout.write(JSON.stringify(result));`;
  const env = {
    PATH: process.env.PATH,
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
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
  };
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 30_000 });
  return JSON.parse(stdout);
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

describe('deployed Lambda bundles', () => {
  it('has one bundle per API route and workflow task', () => {
    const pascal = (kebab: string) => kebab.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
    const expected = [...ROUTES.map((r) => r.handler), ...Object.values(WORKFLOW_TASKS)].map((h) => `${pascal(h)}Function`);
    expect([...bundles.keys()].sort()).toEqual(expected.sort());
  });

  it('create-recording starts a real workflow, and get-recording reads it back', async () => {
    const created = await invoke('CreateRecordingFunction', httpEvent('POST', '/v1/recordings', undefined, { meetingUrl: `http://127.0.0.1:${await closedPort()}/` }));
    expect(created.statusCode).toBe(201);
    const recording = JSON.parse(created.body);
    expect(recording.status).toBe('INVOKED');
    // The local Step Functions ran the recorder, which could not load the page.
    const ended = await t.api.waitFor(recording.id, ['ERRORED'], 30_000);
    expect(ended.error?.code).toBe('page_connection_refused');
    const read = await invoke('GetRecordingFunction', httpEvent('GET', `/v1/recordings/${recording.id}`, { id: recording.id }));
    expect(read.statusCode).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ id: recording.id, status: 'ERRORED' });
  });

  it('bad input gets problem+json from the bundle, as from the source', async () => {
    const res = await invoke('CreateRecordingFunction', httpEvent('POST', '/v1/recordings', undefined, { meetingUrl: 'nope' }));
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'validation_failed', errors: [{ field: 'meetingUrl' }] });
    const stop = await invoke('StopRecordingFunction', httpEvent('POST', '/v1/recordings/x/stop', { id: 'x' }));
    expect(stop.statusCode).toBe(404);
  });

  it('the workflow task bundles are idempotent on a finished recording', async () => {
    const created = await t.api.create(`http://127.0.0.1:${await closedPort()}/`);
    await t.api.waitFor(created.body.id, ['ERRORED'], 30_000);
    const out = await invoke('MarkErroredFunction', { recordingId: created.body.id, failure: { Error: 'States.HeartbeatTimeout', Cause: '' } });
    expect(out).toEqual({ recordingId: created.body.id, status: 'ERRORED' });
    expect((await t.api.get(created.body.id)).body.error?.code).toBe('page_connection_refused');
  });
});
