import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFAULT_MAX_CONCURRENT_RECORDINGS, ENV } from '../functions/core/config.ts';
import { DEFAULT_EVENT_SOURCE, webhookFanOutPattern } from '../functions/core/recording-events.ts';
import { MEETING_ENDED_DETAIL_TYPE, MEETING_STARTED_DETAIL_TYPE } from '../functions/core/meeting-events.ts';
import { TABLE_INDEXES } from '../functions/core/table-schema.ts';
import { HouseFunction } from './house-function.ts';
import { grantCredentialReads } from './table-access.ts';

export interface EventsProps {
  /** The recordings table; it must have a stream with new images (Storage creates it so). */
  readonly table: dynamodb.ITable;
  /**
   * The `source` of the status events.
   * @default 'meeting-recorder'
   */
  readonly eventSource?: string;
  /**
   * Name of the custom event bus.
   * @default - a name CloudFormation generates
   */
  readonly eventBusName?: string;
  /**
   * How often the outbox is swept for events the stream trigger did not publish.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;
  /**
   * SSRF allowlist for webhook URLs (ALLOWED_HOSTS of the delivery function).
   * @default - none: webhook URLs must resolve to public addresses
   */
  readonly allowedHosts?: readonly string[];
  /**
   * The recording workflow. When given, "Meeting Started" / "Meeting Ended" events on the bus start and stop
   * recordings (the meeting trigger rule and function).
   * @default - no auto-start
   */
  readonly stateMachine?: sfn.IStateMachine;
  /**
   * Most recordings live at once, service-wide (MAX_CONCURRENT_RECORDINGS of the meeting trigger function).
   * @default DEFAULT_MAX_CONCURRENT_RECORDINGS (50)
   */
  readonly maxConcurrentRecordings?: number;
  /**
   * Retention of the functions' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Status events and webhooks:
 *
 *   table stream (items with pending events) ─┐
 *   schedule (sweep of the pendingEvents index)├─▶ publisher ─▶ event bus ─▶ rule ─▶ delivery queue ─▶ delivery function ─▶ HTTPS
 *                                                                     └▶ customers' own rules          └ DLQ (alarm)
 *
 * Why an outbox drained by a Lambda rather than an EventBridge Pipe from the stream: the event (with the
 * recording's public fields as of that transition) is written by the transition itself, so the stream is only
 * a trigger; the scheduled sweep publishes whatever a failed or expired (24 h) stream batch left, so no
 * event depends on the stream's retention; and local mode runs the same publisher code on the same outbox.
 */
export class Events extends Construct {
  public readonly eventBus: events.EventBus;
  public readonly eventSource: string;
  public readonly publisherFunction: HouseFunction;
  /** Routes status events to the delivery queue. */
  public readonly webhookRule: events.Rule;
  /** Webhook fan-out and attempts (SQS with delays). */
  public readonly deliveryQueue: sqs.Queue;
  /** Deliveries whose retries are over (and messages the delivery function kept failing on). */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deliveryFunction: HouseFunction;
  /** In alarm while the dead-letter queue holds a message. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Auto-start: "Meeting Started" / "Meeting Ended" events (not from `eventSource`) to the trigger function. */
  public readonly meetingTriggerRule?: events.Rule;
  public readonly meetingTriggerFunction?: HouseFunction;
  /** Meeting events the trigger function failed on after its retries, with an alarm on it. */
  public readonly meetingTriggerDeadLetterQueue?: sqs.Queue;
  public readonly meetingTriggerDeadLetterAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    const source = props.eventSource ?? DEFAULT_EVENT_SOURCE;
    if (!/^[A-Za-z0-9._-]{1,256}$/.test(source) || source.startsWith('aws.')) {
      throw new Error(`eventSource must be 1-256 letters, digits, '.', '_' or '-' and not start with 'aws.', got '${source}'`);
    }
    if (!props.table.tableStreamArn) throw new Error('Events needs a table with a stream (NEW_IMAGE)');
    this.eventSource = source;

    this.eventBus = new events.EventBus(this, 'Bus', { eventBusName: props.eventBusName });

    // Publisher: the outbox to the bus.
    this.publisherFunction = new HouseFunction(this, 'PublisherFunction', {
      entry: 'functions/tasks/publish-status-events.ts',
      description: 'Publishes recording status events from the outbox to the event bus',
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
    });
    // Reads a recording's outbox and clears what it published (conditional UpdateItem); the sweep queries the index.
    this.publisherFunction.bindTable(props.table, {
      items: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      partitions: ['recording'],
      query: ['pendingEvents'],
    });
    this.eventBus.grantPutEventsTo(this.publisherFunction);
    this.publisherFunction.addEnvironment(ENV.eventBusName, this.eventBus.eventBusName);
    this.publisherFunction.addEnvironment(ENV.eventSource, source);
    this.publisherFunction.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(0),
        bisectBatchOnError: true,
        retryAttempts: 10,
        // Only items written with pending events (the marker of the sparse pendingEvents index).
        filters: [lambda.FilterCriteria.filter({ dynamodb: { NewImage: { [TABLE_INDEXES.pendingEvents.partitionKey]: { S: lambda.FilterRule.exists() } } } })],
      }),
    );
    new events.Rule(this, 'SweepSchedule', {
      description: 'Publishes status events a failed stream batch left in the outbox',
      schedule: events.Schedule.rate(props.sweepInterval ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.publisherFunction)],
    });

    // Webhooks: the bus rule feeds the delivery queue; attempts are messages on the same queue.
    const webhookDlq = this.deadLetterQueueWithAlarm(
      'DeadLetter',
      'Webhook deliveries were dead-lettered (retries over, or the delivery function kept failing)',
    );
    this.deadLetterQueue = webhookDlq.queue;
    this.deadLetterAlarm = webhookDlq.alarm;
    this.deliveryQueue = new sqs.Queue(this, 'DeliveryQueue', {
      // Above the function's timeout (several 10 s attempts in one batch), as Lambda requires.
      visibilityTimeout: Duration.seconds(180),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 8 },
    });
    this.webhookRule = new events.Rule(this, 'WebhookRule', {
      description: 'Status events to webhook delivery',
      eventBus: this.eventBus,
      eventPattern: (() => {
        const pattern = webhookFanOutPattern(source);
        return { source: pattern.source, detailType: pattern['detail-type'] };
      })(),
      targets: [new targets.SqsQueue(this.deliveryQueue, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });

    this.deliveryFunction = new HouseFunction(this, 'DeliveryFunction', {
      entry: 'functions/tasks/deliver-webhooks.ts',
      description: 'Delivers signed webhooks with retries',
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
    });
    // Subscriptions and their delivery items (same partition); a tenant's subscriptions come from the byTenant index.
    this.deliveryFunction.bindTable(props.table, {
      items: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      partitions: ['webhook'],
      query: ['byTenant'],
    });
    this.deliveryQueue.grantSendMessages(this.deliveryFunction);
    this.deadLetterQueue.grantSendMessages(this.deliveryFunction);
    this.deliveryFunction.addEnvironment(ENV.webhookQueueUrl, this.deliveryQueue.queueUrl);
    this.deliveryFunction.addEnvironment(ENV.webhookDlqUrl, this.deadLetterQueue.queueUrl);
    if (props.allowedHosts?.length) this.deliveryFunction.addEnvironment(ENV.allowedHosts, props.allowedHosts.join(','));
    this.deliveryFunction.addEventSource(new SqsEventSource(this.deliveryQueue, { batchSize: 10, reportBatchItemFailures: true }));

    if (props.stateMachine) {
      const triggerDlq = this.deadLetterQueueWithAlarm(
        'MeetingTriggerDeadLetter',
        'Meeting Started/Ended events the trigger function could not handle are waiting in its dead-letter queue',
      );
      this.meetingTriggerDeadLetterQueue = triggerDlq.queue;
      Validations.of(triggerDlq.queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is a dead-letter queue: that of the meeting trigger rule target (EventBridge), which cdk-nag only recognizes for SQS redrive.',
      });
      this.meetingTriggerDeadLetterAlarm = triggerDlq.alarm;
      const trigger = this.addMeetingTrigger({ ...props, stateMachine: props.stateMachine });
      this.meetingTriggerRule = trigger.rule;
      this.meetingTriggerFunction = trigger.fn;
    }
  }

  /** A dead-letter queue (14 days, encrypted, TLS only) and an alarm as soon as it holds a message. */
  private deadLetterQueueWithAlarm(id: string, alarmDescription: string): { queue: sqs.Queue; alarm: cloudwatch.Alarm } {
    const queue = new sqs.Queue(this, `${id}Queue`, {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const alarm = new cloudwatch.Alarm(this, `${id}Alarm`, {
      alarmDescription,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return { queue, alarm };
  }

  /**
   * Auto-start. The function creates recordings as POST /v1/recordings does (meeting lock, SSRF check,
   * workflow start) for the tenant the event names, so who may PutEvents on the bus decides who may start
   * recordings for any tenant: keep the bus's resource policy and IAM to trusted principals (README).
   */
  private addMeetingTrigger(props: EventsProps & { stateMachine: sfn.IStateMachine }): { rule: events.Rule; fn: HouseFunction } {
    const fn = new HouseFunction(this, 'MeetingTriggerFunction', {
      entry: 'functions/tasks/meeting-events.ts',
      description: 'Starts and stops recordings on Meeting Started / Meeting Ended events',
      // A Meeting Ended may wait up to 30 s for a recording that is still starting.
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
    });
    // The meeting lock (conditional PutItem / DeleteItem), the recording (PutItem, GetItem), stop (UpdateItem),
    // the live-recording set of the concurrency limit (UpdateItem, GetItem, PutItem on first use).
    fn.bindTable(props.table, {
      items: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      partitions: ['recording', 'meetingLock', 'liveRecordings'],
    });
    fn.addEnvironment(ENV.maxConcurrentRecordings, String(props.maxConcurrentRecordings ?? DEFAULT_MAX_CONCURRENT_RECORDINGS));
    fn.bindStateMachine(props.stateMachine, ['states:StartExecution']);
    // Whether the tenant exists: reads of the credential partitions only (as the API's authentication).
    grantCredentialReads(fn, props.table);
    if (props.allowedHosts?.length) fn.addEnvironment(ENV.allowedHosts, props.allowedHosts.join(','));
    const rule = new events.Rule(this, 'MeetingTriggerRule', {
      description: 'Meeting Started / Meeting Ended events start and stop recordings',
      eventBus: this.eventBus,
      eventPattern: { source: events.Match.anythingBut(this.eventSource), detailType: [MEETING_STARTED_DETAIL_TYPE, MEETING_ENDED_DETAIL_TYPE] },
      // An event that still fails after the retries is kept, not lost, and the alarm says so.
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(1), deadLetterQueue: this.meetingTriggerDeadLetterQueue })],
    });
    return { rule, fn };
  }

  /** Lets an API function schedule webhook attempts (POST /v1/webhooks/{id}/test). */
  grantScheduleDeliveries(fn: HouseFunction): void {
    this.deliveryQueue.grantSendMessages(fn);
    fn.addEnvironment(ENV.webhookQueueUrl, this.deliveryQueue.queueUrl);
  }
}
