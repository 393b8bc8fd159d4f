/**
 * cdk-nag's AwsSolutions pack runs on the synthesized service (CDK policy validation): any finding that is not
 * acknowledged fails the synth, and so this test. Every acknowledgment must give a reason. Bundling is skipped
 * (the `aws:cdk:bundling-stacks` context): the rules look at the template, not at the Lambda code.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { MeetingRecorderStack } from '../../lib/meeting-recorder-stack.ts';
import { RecordingService } from '../../lib/recording-service.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

function newApp(): App {
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

/** Synthesizes `app`; returns the validation failure text, or '' when cdk-nag found nothing unacknowledged. */
function nagFindings(app: App): string {
  const errors: string[] = [];
  const write = process.stderr.write;
  const log = console.error;
  // The CDK prints the report to stderr before it throws; keep it for the assertion message instead.
  process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  console.error = (...args: unknown[]) => errors.push(args.join(' '));
  try {
    app.synth();
    return '';
  } catch (err) {
    return `${(err as Error).message}\n${errors.join('')}`;
  } finally {
    process.stderr.write = write;
    console.error = log;
  }
}

function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([id, value]) => ({
          path: construct.node.path,
          id,
          reason: typeof value === 'string' ? value : String((value as { reason?: string })?.reason ?? JSON.stringify(value)),
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the deployable stack', () => {
    const app = newApp();
    new MeetingRecorderStack(app, 'MeetingRecorder');
    expect(nagFindings(app)).toBe('');
  });

  it('finds nothing unacknowledged when embedded with an existing VPC and an allowlist', () => {
    const app = newApp();
    const stack = new Stack(app, 'Host', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'TheirVpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }] });
    Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'The host application owns this VPC and its flow logs (test fixture).' });
    new RecordingService(stack, 'Recorder', { vpc, allowedHosts: ['meet.internal.example'] });
    expect(nagFindings(app)).toBe('');
  });

  it('fails on a finding nobody acknowledged (the control: the check can fail)', () => {
    const app = newApp();
    const stack = new MeetingRecorderStack(app, 'MeetingRecorder');
    new s3.Bucket(stack, 'CarelessBucket');
    const findings = nagFindings(app);
    expect(findings).toMatch(/AwsSolutions-S1/);
    expect(findings).toMatch(/AwsSolutions-S10/);
    expect(findings).toMatch(/CarelessBucket/);
  });

  it('gives every acknowledgment a rule id and a reason', () => {
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new MeetingRecorderStack(app, 'MeetingRecorder');
    // Ours; the CDK acknowledges some of its own (CloudFormation-Validate::...).
    const all = acknowledgments(stack).filter((ack) => ack.id.includes('AwsSolutions'));
    expect(all.length).toBeGreaterThan(5);
    for (const ack of all) {
      expect(ack.id, ack.path).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(ack.reason.length, `${ack.path} ${ack.id}: ${ack.reason}`).toBeGreaterThan(40);
    }
  });
});

/** Actions that have no resource-level permissions in IAM (Resource must be "*"). */
const ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'ecr:GetAuthorizationToken',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'dynamodb:ListStreams',
  // ListTasks lists by cluster; the ecs:cluster condition limits it (asserted below).
  'ecs:ListTasks',
  'cloudwatch:PutMetricData',
]);

describe('IAM', () => {
  it('uses "*" resources only for actions that have no resource-level permissions', () => {
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(new MeetingRecorderStack(app, 'MeetingRecorder'));
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: Record<string, any>[] } } }).Properties.PolicyDocument.Statement,
    );
    const wildcard = statements.filter((s) => [s.Resource].flat().includes('*'));
    expect(wildcard.length).toBeGreaterThan(0);
    for (const statement of wildcard) {
      for (const action of [statement.Action].flat()) {
        expect(ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS.has(action), `${action} on "*"`).toBe(true);
      }
    }
    for (const statement of wildcard.filter((s) => [s.Action].flat().includes('ecs:ListTasks'))) {
      expect(statement.Condition).toEqual({ ArnEquals: { 'ecs:cluster': expect.anything() } });
    }
    // PutMetricData on "*" is only allowed within our namespace.
    for (const statement of wildcard.filter((s) => [s.Action].flat().includes('cloudwatch:PutMetricData'))) {
      expect(statement.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': expect.any(String) } });
    }
  });
});
