import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { OBSERVABILITY } from '../functions/core/observability-config.ts';

/**
 * Metric names the functions (functions/core/recording-metrics.ts) and the recorder (recorder-image/src/metrics.ts)
 * publish as EMF in namespace OBSERVABILITY.metricsNamespace; a test checks they match what the code emits.
 */
export const SERVICE_METRICS = {
  started: 'RecordingsStarted',
  errored: 'RecordingsErrored',
  duration: 'RecordingDuration',
  stopToUploaded: 'StopToUploadedLatency',
} as const;
export const RECORDER_METRICS = {
  framesCaptured: 'FramesCaptured',
  framesDropped: 'FramesDropped',
  framesDuplicated: 'FramesDuplicated',
  framesRepeated: 'FramesRepeated',
  uploadLagSeconds: 'UploadLagSeconds',
} as const;
/** The `service` dimension of the recorder's metrics (the functions use OBSERVABILITY.serviceName). */
export const RECORDER_SERVICE_NAME = 'recorder';

export interface MonitoringProps {
  readonly httpApi: apigwv2.IHttpApi;
  readonly stateMachine: sfn.IStateMachine;
  readonly cluster: ecs.ICluster;
  /** Every function of the service (errors and throttles are summed over them). */
  readonly functions: readonly lambda.IFunction[];
  /** Dead-letter queues, each already alarmed by its owner; shown on the dashboard. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** Alarms created elsewhere (the dead-letter queues'), listed with these in `alarms`. */
  readonly existingAlarms?: readonly cloudwatch.IAlarm[];
  /**
   * Percentage of recordings ending ERRORED, over an hour with at least 5 starts, above which the errored-rate
   * alarm fires.
   * @default 20
   */
  readonly erroredRatePercent?: number;
  /**
   * Where every alarm of the service notifies (e.g. an SNS topic action).
   * @default - none: the alarms show in the console and on the dashboard only
   */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /**
   * Name of the dashboard.
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
}

/**
 * What an operator looks at, at 3 a.m.: one dashboard (recordings, workflow, API, functions, recorders, queues)
 * and alarms for the errored rate, stuck executions, API 5xx and function errors, next to the dead-letter
 * queue alarms. `alarms` lists them all, to wire to a pager.
 */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  /** Recordings ending ERRORED above `erroredRatePercent` of those started in the hour. */
  public readonly erroredRateAlarm: cloudwatch.Alarm;
  /** A workflow execution timed out: it ran past every recording's bound (the state machine's TimeoutSeconds). */
  public readonly stuckExecutionsAlarm: cloudwatch.Alarm;
  /** The API answered 5xx (the API's contract is that it never does). */
  public readonly api5xxAlarm: cloudwatch.Alarm;
  /** One per function: it failed (an unhandled error or a timeout). */
  public readonly functionErrorAlarms: readonly cloudwatch.Alarm[];
  /** Every alarm of the service, including the dead-letter queues'. */
  public readonly alarms: readonly cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const namespace = OBSERVABILITY.metricsNamespace;
    const serviceMetric = (metricName: string, statistic: string, period = Duration.minutes(5)) =>
      new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { service: OBSERVABILITY.serviceName }, statistic, period });
    const recorderMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { service: RECORDER_SERVICE_NAME }, statistic, period: Duration.minutes(5) });

    // Alarms.
    const hour = Duration.hours(1);
    const threshold = props.erroredRatePercent ?? 20;
    if (!(threshold > 0 && threshold <= 100)) throw new Error(`erroredRatePercent must be in (0, 100], got ${threshold}`);
    const erroredRate = new cloudwatch.MathExpression({
      // Below 5 starts an hour one failure is not a rate; FILL makes hours without a metric count as 0.
      expression: 'IF(started >= 5, 100 * errored / started, 0)',
      usingMetrics: {
        started: new cloudwatch.MathExpression({ expression: 'FILL(s, 0)', usingMetrics: { s: serviceMetric(SERVICE_METRICS.started, 'Sum', hour) }, period: hour }),
        errored: new cloudwatch.MathExpression({ expression: 'FILL(e, 0)', usingMetrics: { e: serviceMetric(SERVICE_METRICS.errored, 'Sum', hour) }, period: hour }),
      },
      label: 'Errored rate (%)',
      period: hour,
    });
    this.erroredRateAlarm = erroredRate.createAlarm(this, 'ErroredRateAlarm', {
      alarmDescription: `More than ${threshold}% of the recordings started in the last hour ended ERRORED (error.code on each recording; logs by recordingId)`,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.stuckExecutionsAlarm = props.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'StuckExecutionsAlarm', {
      alarmDescription:
        'A recording workflow execution timed out: it outlived the longest possible recording, so something in it hung. ' +
        'Find it among the TimedOut executions of the state machine; its recorder task may still be running.',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.api5xxAlarm = props.httpApi.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'Api5xxAlarm', {
      alarmDescription: 'The API answered 5xx. Its contract is a problem+json 4xx for bad input, never a 5xx: see the functions\' logs and the access log.',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // One alarm per function: an alarm's metric math may use at most 10 metrics, and the name says where to look.
    this.functionErrorAlarms = props.functions.map((fn, index) =>
      fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, `FunctionErrorsAlarm${index}`, {
        alarmDescription: `A function of the service failed (unhandled error or timeout) in 2 of the last 3 five-minute periods; see its log group.`,
        threshold: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    const functionErrors = sumOf('Function errors', props.functions.map((fn) => fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' })));
    const ownAlarms = [this.erroredRateAlarm, this.stuckExecutionsAlarm, this.api5xxAlarm, ...this.functionErrorAlarms];
    for (const alarm of ownAlarms) for (const action of props.alarmActions ?? []) alarm.addAlarmAction(action);
    for (const alarm of props.existingAlarms ?? []) {
      if (alarm instanceof cloudwatch.Alarm) for (const action of props.alarmActions ?? []) alarm.addAlarmAction(action);
    }
    this.alarms = [...ownAlarms, ...(props.existingAlarms ?? [])];

    // Dashboard.
    const five = Duration.minutes(5);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(24),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms], width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Recordings started / errored',
        left: [serviceMetric(SERVICE_METRICS.started, 'Sum'), serviceMetric(SERVICE_METRICS.errored, 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Errored rate (%, hourly)', left: [erroredRate], leftAnnotations: [{ value: threshold, label: 'alarm' }], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Stop to uploaded (s)',
        left: [serviceMetric(SERVICE_METRICS.stopToUploaded, 'p50'), serviceMetric(SERVICE_METRICS.stopToUploaded, 'p99'), serviceMetric(SERVICE_METRICS.stopToUploaded, 'Maximum')],
        right: [serviceMetric(SERVICE_METRICS.duration, 'Average')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Workflow executions',
        left: [
          props.stateMachine.metricStarted({ period: five }),
          props.stateMachine.metricSucceeded({ period: five }),
          props.stateMachine.metricFailed({ period: five }),
          props.stateMachine.metricTimedOut({ period: five }),
          props.stateMachine.metricAborted({ period: five }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API requests, 4xx, 5xx',
        left: [props.httpApi.metricCount({ period: five }), props.httpApi.metricClientError({ period: five }), props.httpApi.metricServerError({ period: five })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        left: [props.httpApi.metricLatency({ period: five, statistic: 'p50' }), props.httpApi.metricLatency({ period: five, statistic: 'p99' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        left: [functionErrors, sumOf('Function throttles', props.functions.map((fn) => fn.metricThrottles({ period: five, statistic: 'Sum' })))],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recorder frames (5 min)',
        left: [recorderMetric(RECORDER_METRICS.framesCaptured, 'Sum')],
        right: [recorderMetric(RECORDER_METRICS.framesDropped, 'Sum'), recorderMetric(RECORDER_METRICS.framesDuplicated, 'Sum'), recorderMetric(RECORDER_METRICS.framesRepeated, 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recorder upload lag (s) and tasks',
        left: [recorderMetric(RECORDER_METRICS.uploadLagSeconds, 'Maximum')],
        right: [
          new cloudwatch.Metric({
            namespace: 'ECS/ContainerInsights',
            metricName: 'TaskCount',
            dimensionsMap: { ClusterName: props.cluster.clusterName },
            statistic: 'Maximum',
            period: five,
            label: 'Recorder tasks',
          }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      ...Object.entries(props.deadLetterQueues).map(
        ([name, queue]) =>
          new cloudwatch.GraphWidget({
            title: `${name} dead-letter queue`,
            left: [queue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' })],
            width: 8,
          }),
      ),
    );
  }
}

/** One line: the sum of `metrics` (a math expression; CloudWatch allows up to 10 metrics per widget, not per expression). */
function sumOf(label: string, metrics: readonly cloudwatch.IMetric[]): cloudwatch.MathExpression {
  // Ids unique per expression (two sums can share a graph): the label's letters plus the index.
  const prefix = label.toLowerCase().replace(/[^a-z]/g, '');
  const usingMetrics = Object.fromEntries(metrics.map((metric, index) => [`${prefix}${index}`, metric]));
  return new cloudwatch.MathExpression({
    expression: metrics.length > 0 ? `SUM([${Object.keys(usingMetrics).join(',')}])` : '0',
    usingMetrics,
    label,
    period: Duration.minutes(5),
  });
}
