/**
 * The dashboard and alarms of the service, from the synthesized template (CloudWatch itself is the AWS control
 * plane, not reachable here), and the metric names they watch against the names the code emits.
 */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RECORDING_METRICS } from '../../functions/core/recording-metrics.ts';
import { OBSERVABILITY } from '../../functions/core/observability-config.ts';
import { RECORDER_METRICS, SERVICE_METRICS } from '../../lib/monitoring.ts';
import { RecordingService } from '../../lib/recording-service.ts';
import { WORKFLOW_TIMEOUT_SECONDS } from '../../workflow/recording-workflow.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

type Resource = { Type: string; Properties: Record<string, any> };

function synth(props: ConstructorParameters<typeof RecordingService>[2] = {}) {
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Host');
  const service = new RecordingService(stack, 'Service', props);
  return { stack, service, template: Template.fromStack(stack) };
}

let template: Template;
let alarms: Resource[];
beforeAll(() => {
  template = synth().template;
  alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
});

const alarmWithDescription = (pattern: RegExp) => {
  const found = alarms.filter((alarm) => pattern.test(alarm.Properties.AlarmDescription ?? ''));
  expect(found, String(pattern)).toHaveLength(1);
  return found[0]!.Properties;
};

describe('alarms', () => {
  it('errored rate: recordings ERRORED over recordings started in the hour, above 20% with at least 5 starts', () => {
    const alarm = alarmWithDescription(/ended ERRORED/);
    expect(alarm.Threshold).toBe(20);
    const json = JSON.stringify(alarm.Metrics);
    expect(json).toContain('IF(started >= 5, 100 * errored / started, 0)');
    expect(json).toContain(`"MetricName":"${SERVICE_METRICS.started}"`);
    expect(json).toContain(`"MetricName":"${SERVICE_METRICS.errored}"`);
    expect(json).toContain(`"Namespace":"${OBSERVABILITY.metricsNamespace}"`);
    expect(json).toContain(`{"Name":"service","Value":"${OBSERVABILITY.serviceName}"}`);
  });

  it('stuck executions: any timed-out workflow execution, which the execution-level timeout bounds', () => {
    const alarm = alarmWithDescription(/timed out/);
    expect(alarm).toMatchObject({ Namespace: 'AWS/States', MetricName: 'ExecutionsTimedOut', Threshold: 1 });
    const definition = JSON.stringify(Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]);
    expect(definition).toContain(`\\"TimeoutSeconds\\":${WORKFLOW_TIMEOUT_SECONDS}`);
  });

  it('API 5xx: any', () => {
    expect(alarmWithDescription(/answered 5xx/)).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: '5xx', Threshold: 1 });
  });

  it('the webhook dead-letter queue, and one errors alarm per function', () => {
    alarmWithDescription(/Webhook deliveries were dead-lettered/);
    const functionAlarms = alarms.filter((alarm) => alarm.Properties.MetricName === 'Errors' && alarm.Properties.Namespace === 'AWS/Lambda');
    expect(functionAlarms).toHaveLength(Object.keys(template.findResources('AWS::Lambda::Function')).length);
  });

  it('notify the given actions, every one of them', () => {
    const { stack, template: withActions } = (() => {
      const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
      const host = new Stack(app, 'Host');
      const topic = new sns.Topic(host, 'Pager', { enforceSSL: true });
      new RecordingService(host, 'Service', { alarmActions: [new actions.SnsAction(topic)] });
      return { stack: host, template: Template.fromStack(host) };
    })();
    expect(stack).toBeDefined();
    const all = Object.values(withActions.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    expect(all.length).toBeGreaterThan(5);
    for (const alarm of all) expect(alarm.Properties.AlarmActions, alarm.Properties.AlarmDescription).toEqual([{ Ref: expect.stringMatching(/Pager/) }]);
  });

  it('rejects an errored-rate threshold outside (0, 100]', () => {
    expect(() => synth({ erroredRateAlarmPercent: 0 })).toThrow(/erroredRatePercent/);
  });
});

describe('dashboard', () => {
  it('shows the recordings, the workflow, the API, the functions, the recorders and the queues', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Resource[];
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const name of [...Object.values(SERVICE_METRICS), ...Object.values(RECORDER_METRICS), 'ExecutionsTimedOut', '5xx', 'Latency', 'Throttles', 'ApproximateNumberOfMessagesVisible', 'TaskCount']) {
      expect(body, name).toContain(name);
    }
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardBody: Match.anyValue() });
  });
});

describe('metric names', () => {
  it('are those the functions emit', () => {
    expect(SERVICE_METRICS).toEqual(RECORDING_METRICS);
  });

  it('are those the recorder emits', () => {
    const source = readFileSync(new URL('../../recorder-image/src/metrics.ts', import.meta.url), 'utf8');
    for (const name of Object.values(RECORDER_METRICS)) expect(source).toContain(`name: '${name}'`);
    expect(source).toContain(`'${OBSERVABILITY.metricsNamespace}'`);
  });
});
