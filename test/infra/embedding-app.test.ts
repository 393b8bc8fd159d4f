/**
 * The example in examples/embed-in-your-stack: someone else's stack that embeds RecordingService with its own
 * VPC, Spot, a concurrency cap, an allowlist, an event source and a pager, and consumes the service's bus and
 * bucket. Its entry point is run as `cdk synth` runs it, and the result passes cdk-nag.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { MeetingsPlatformStack } from '../../examples/embed-in-your-stack/platform-stack.ts';
import { projectPath } from '../../lib/project-paths.ts';

const run = promisify(execFile);
const outdirs: string[] = [];
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'embed-'));
  outdirs.push(dir);
  return dir;
};
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

describe('examples/embed-in-your-stack', () => {
  it('synthesizes from its entry point, as `cdk synth` runs it', async () => {
    const outdir = tempDir();
    await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'app.ts'], {
      cwd: projectPath('examples/embed-in-your-stack'),
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(NO_BUNDLING) },
      timeout: 120_000,
    });
    const templateFile = join(outdir, 'MeetingsPlatform.template.json');
    expect(existsSync(templateFile)).toBe(true);
    const resources = Object.values(JSON.parse(readFileSync(templateFile, 'utf8')).Resources as Record<string, { Type: string }>);
    expect(resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
  });

  it('puts the service in the platform stack with the platform settings, and passes cdk-nag', () => {
    const app = new App({ outdir: tempDir(), context: NO_BUNDLING });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new MeetingsPlatformStack(app, 'MeetingsPlatform');
    const template = Template.fromStack(stack);

    // The platform's VPC, not a second one; the service's flow log is the platform's business.
    template.resourceCountIs('AWS::EC2::VPC', 1);
    // Spot: x86_64 recorder, Spot capacity in the workflow.
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'X86_64' } });
    const definition = JSON.stringify(Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]);
    expect(definition).toContain('FARGATE_SPOT');
    // 30-day retention on the bucket.
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [{ Id: 'ExpireRecordings', ExpirationInDays: 30, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] } });
    // The platform's rule on the service's bus, for its own event source.
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['meetings-platform.recordings'], 'detail-type': ['Recording Status Changed'], detail: { status: ['UPLOADED'] } },
    });
    // Every alarm pages the platform.
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect((alarm as { Properties: { AlarmActions: unknown } }).Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/Pager/) }]);
    }
    // The concurrency cap reaches the functions that start recordings.
    const startFunctions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => (fn as { Properties: { Environment?: { Variables?: Record<string, string> } } }).Properties.Environment?.Variables?.MAX_CONCURRENT_RECORDINGS === '10',
    );
    expect(startFunctions.length).toBeGreaterThanOrEqual(2);

    expect(() => app.synth()).not.toThrow();
  });
});
