/**
 * MarkErrored stops the task of a recorder the workflow gave up on (functions/core/recorder-tasks.ts). ECS is
 * the AWS control plane, unreachable here: it is a stand-in HTTP endpoint speaking the ECS JSON protocol on
 * 127.0.0.1. Everything else is real: the handler module, the repository over HTTP against the emulator.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/config.ts';
import { seedRecording } from '../support/seed.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const CLUSTER = 'arn:aws:ecs:us-east-1:111111111111:cluster/recorders';
let t: TestStack;
let ecs: Server;
let calls: { target: string; body: Record<string, unknown> }[] = [];
/** What the stand-in answers: the running task ARNs, or a failure. */
let behaviour: { tasks: string[] } | { status: number } = { tasks: [] };
let handler: (event: unknown, context: unknown) => Promise<{ status?: string }>;

beforeAll(async () => {
  t = await startTestStack();
  ecs = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '').split('.').pop()!;
      calls.push({ target, body: JSON.parse(raw || '{}') });
      if ('status' in behaviour) {
        res.writeHead(behaviour.status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'ServerException', message: 'stand-in failure' }));
        return;
      }
      const body = target === 'ListTasks' ? { taskArns: behaviour.tasks } : { task: { taskArn: calls.at(-1)!.body.task, desiredStatus: 'STOPPED' } };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => ecs.listen(0, '127.0.0.1', resolve));
  process.env[ENV.clusterArn] = CLUSTER;
  process.env[ENV.ecsEndpoint] = `http://127.0.0.1:${(ecs.address() as AddressInfo).port}`;
  process.env[ENV.tableName] = t.stack.tableName;
  process.env[ENV.bucketName] = t.stack.bucketName;
  const module = await import('../../functions/tasks/mark-errored.ts');
  handler = (event, ctx) => (module.handler as unknown as (e: unknown, c: unknown) => Promise<{ status?: string }>)(event, ctx);
});
afterAll(async () => {
  delete process.env[ENV.clusterArn];
  delete process.env[ENV.ecsEndpoint];
  await new Promise((resolve) => ecs?.close(resolve));
  await t?.stop();
});
beforeEach(() => {
  calls = [];
});

const context = { getRemainingTimeInMillis: () => 10_000, functionName: 'mark-errored', awsRequestId: 'req-1' };
const heartbeatTimeout = { Error: 'States.HeartbeatTimeout', Cause: '' };

describe('MarkErrored with a stand-in ECS (the AWS control plane)', () => {
  it("stops the lost recorder's task, found by the recording id RunTask gave it", async () => {
    const r = await seedRecording(t.stack.repository, t.stack.tenantId, { status: 'RECORDING' });
    const task = `arn:aws:ecs:us-east-1:111111111111:task/recorders/${'a'.repeat(32)}`;
    behaviour = { tasks: [task] };

    const out = await handler({ recordingId: r.id, failure: heartbeatTimeout }, context);

    expect(out.status).toBe('ERRORED');
    expect(calls.map((c) => c.target)).toEqual(['ListTasks', 'StopTask']);
    expect(calls[0]!.body).toEqual({ cluster: CLUSTER, startedBy: r.id, desiredStatus: 'RUNNING' });
    expect(calls[1]!.body).toMatchObject({ cluster: CLUSTER, task });
    expect(String(calls[1]!.body.reason)).toContain(r.id);
    expect(String(calls[1]!.body.reason)).toContain('States.HeartbeatTimeout');
  });

  it('stops nothing when no task runs (the recorder reported its failure and exited)', async () => {
    const r = await seedRecording(t.stack.repository, t.stack.tenantId, { status: 'RECORDING' });
    behaviour = { tasks: [] };
    const out = await handler({ recordingId: r.id, failure: { Error: 'RecorderFailed', Cause: '{"code":"page_not_found"}' } }, context);
    expect(out.status).toBe('ERRORED');
    expect(calls.map((c) => c.target)).toEqual(['ListTasks']);
  });

  it('still records the outcome when ECS fails', async () => {
    const r = await seedRecording(t.stack.repository, t.stack.tenantId, { status: 'RECORDING' });
    behaviour = { status: 400 };
    const out = await handler({ recordingId: r.id, failure: heartbeatTimeout }, context);
    expect(out.status).toBe('ERRORED');
    expect((await t.stack.repository.find(r.id))?.status).toBe('ERRORED');
    expect(calls.length).toBeGreaterThanOrEqual(1);
  });
});
