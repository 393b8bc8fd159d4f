/**
 * The event path in the template: bus, stream-triggered publisher and its sweep schedule, the webhook rule,
 * the delivery queue with its DLQ and the DLQ alarm; and the README's customer rule, synthesized, matching
 * real events (built by the same code as the publisher's, put through the local bus).
 */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { StandupUploadedRule } from '../../examples/uploaded-rule.ts';
import { matchesEventPattern } from '../../functions/core/event-pattern.ts';
import { meetingTriggerPattern } from '../../functions/core/meeting-events.ts';
import { newRecording, planTransition, type Recording, type RecordingStatus } from '../../functions/core/recording.ts';
import { busEntry, statusChangedDetail, type BusEvent } from '../../functions/core/recording-events.ts';
import { RecordingService } from '../../lib/recording-service.ts';
import { LocalEventBus } from '../../local/local-events.ts';
import { projectPath } from '../../lib/project-paths.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

function synth() {
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'CustomerStack');
  const service = new RecordingService(stack, 'Recorder');
  const postToChat = new lambda.Function(stack, 'PostToChat', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  new StandupUploadedRule(stack, 'Standup', { service, postToChat });
  return { stack, template: Template.fromStack(stack) };
}

/** Real events: the publisher's builder on a real transition chain, delivered by the local bus. */
async function eventsOf(meetingId: string, statuses: RecordingStatus[]): Promise<BusEvent[]> {
  const bus = new LocalEventBus({ account: '111122223333', region: 'eu-west-1' });
  const seen: BusEvent[] = [];
  bus.addRule({ name: 'all', pattern: { source: ['meeting-recorder'] }, target: (e) => void seen.push(e) });
  let r: Recording = newRecording({ id: 'rec_000000000000000000000001', tenantId: 't', meetingId, meetingUrl: 'https://m.example/x', now: new Date().toISOString() });
  await bus.putEvents([busEntry(statusChangedDetail(undefined, r), 'meeting-recorder')]);
  for (const status of statuses) {
    const patch = status === 'UPLOADED' ? { files: [{ key: 'k', sizeBytes: 1, durationSeconds: 1, format: 'mp4' as const }] } : {};
    const previous = r.status;
    r = planTransition(r, status, patch, new Date().toISOString()).next;
    await bus.putEvents([busEntry(statusChangedDetail(previous, r), 'meeting-recorder')]);
  }
  return seen;
}

describe('events and webhooks in the template', () => {
  const { template } = synth();

  it('has the bus, the stream-triggered publisher with a sweep schedule, and the table stream', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BisectBatchOnFunctionError: true,
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { gsi4pk: { S: [{ exists: true }] } } } }) }] },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ IndexName: 'pendingEvents' })]),
    });
  });

  it('routes status events to the delivery queue, which has a DLQ with an alarm', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: Match.anyValue(),
      EventPattern: { source: ['meeting-recorder'], 'detail-type': ['Recording Status Changed'] },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: { maxReceiveCount: 8, deadLetterTargetArn: Match.anyValue() } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it("the README's customer rule is in the template and matches UPLOADED events of its meeting only", async () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { detail: Match.anyValue() } } });
    const [rule] = Object.values(rules) as { Properties: { EventPattern: unknown; EventBusName: unknown } }[];
    expect(rule!.Properties.EventPattern).toEqual({
      source: ['meeting-recorder'],
      'detail-type': ['Recording Status Changed'],
      detail: { status: ['UPLOADED'], meetingId: ['weekly-standup'] },
    });
    const pattern = rule!.Properties.EventPattern;
    const standup = await eventsOf('weekly-standup', ['RECORDING', 'UPLOADING', 'UPLOADED']);
    expect(standup.filter((e) => matchesEventPattern(pattern, e)).map((e) => (e.detail as { status: string }).status)).toEqual(['UPLOADED']);
    const other = await eventsOf('another-meeting', ['RECORDING', 'UPLOADING', 'UPLOADED']);
    expect(other.some((e) => matchesEventPattern(pattern, e))).toBe(false);
    // The README shows this very code.
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    const example = readFileSync(projectPath('examples/uploaded-rule.ts'), 'utf8');
    const snippet = example.split('// README: begin\n')[1]!.split('    // README: end')[0]!;
    const dedented = snippet.split('\n').map((line) => line.replace(/^ {4}/, '')).join('\n').trim();
    expect(readme).toContain(dedented.replace('this.rule = ', '').replace(/props\.service/g, 'service').replace('props.postToChat', 'postToChat'));
  });

  it('auto-start: a rule for Meeting Started / Meeting Ended (not from its own source) invokes the trigger function, with least privilege', () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { Description: Match.stringLikeRegexp('Meeting Started') } });
    const [rule] = Object.values(rules) as { Properties: { EventPattern: unknown; EventBusName: unknown; Targets: { Arn: unknown; RetryPolicy: unknown }[] } }[];
    // The same pattern local mode's rule uses.
    expect(rule!.Properties.EventPattern).toEqual({ source: [{ 'anything-but': ['meeting-recorder'] }], 'detail-type': ['Meeting Started', 'Meeting Ended'] });
    expect(rule!.Properties.EventPattern).toEqual(meetingTriggerPattern('meeting-recorder'));
    expect(rule!.Properties.EventBusName).toEqual({ Ref: expect.stringMatching(/EventsBus/) });
    expect(rule!.Properties.Targets[0]!.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
    // What still fails goes to a dead-letter queue that has an alarm.
    const dlq = (rule!.Properties.Targets[0] as { DeadLetterConfig?: { Arn: { 'Fn::GetAtt': string[] } } }).DeadLetterConfig?.Arn['Fn::GetAtt'][0];
    expect(dlq).toMatch(/MeetingTriggerDeadLetterQueue/);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }] });
    // The pattern as EventBridge applies it: a customer's events match, the service's own and status events do not.
    const event = (source: string, detailType: string) => ({ source, 'detail-type': detailType, detail: {} });
    const pattern = rule!.Properties.EventPattern;
    expect(matchesEventPattern(pattern, event('com.example.meetings', 'Meeting Started'))).toBe(true);
    expect(matchesEventPattern(pattern, event('com.example.meetings', 'Meeting Ended'))).toBe(true);
    expect(matchesEventPattern(pattern, event('meeting-recorder', 'Meeting Started'))).toBe(false);
    expect(matchesEventPattern(pattern, event('com.example.meetings', 'Recording Status Changed'))).toBe(false);
    // The target is the trigger function; it may start executions and use the table, nothing broader.
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('Meeting Started') } });
    const [fnId] = Object.keys(fns);
    expect(fnId).toBeDefined();
    expect(JSON.stringify(rule!.Properties.Targets[0]!.Arn)).toContain(fnId);
    const role = JSON.stringify((fns[fnId!] as { Properties: { Role: unknown } }).Properties.Role);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes(JSON.parse(role)['Fn::GetAtt'][0]));
    const actions = policies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } }).Properties.PolicyDocument.Statement.flatMap((st) => st.Action));
    expect(new Set(actions)).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'states:StartExecution', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords',
      // Its own log group (lib/house-function.ts).
      'logs:CreateLogStream', 'logs:PutLogEvents']));
    // Credential reads only under the credential partitions (tenant lookup).
    expect(JSON.stringify(policies)).toContain('dynamodb:LeadingKeys');
  });
});
