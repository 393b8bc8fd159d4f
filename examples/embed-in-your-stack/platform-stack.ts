/**
 * An example of embedding the recording service in an application's own stack: "MeetingsPlatform" already has a
 * VPC, a pager topic and a queue of its own; it adds recordings with its own settings and consumes the
 * service's events. Everything the service creates is reachable through the construct's public properties.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { RecordingService } from '../../lib/recording-service.ts';
import { nagResourceText } from '../../lib/table-access.ts';

export class MeetingsPlatformStack extends Stack {
  public readonly recordings: RecordingService;
  /** Where the platform's own backend learns that a recording is ready. */
  public readonly recordingReadyQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);

    // What the platform had before it added recordings.
    const vpc = new ec2.Vpc(this, 'PlatformVpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      flowLogs: { All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'PlatformFlowLogs', { retention: logs.RetentionDays.THREE_MONTHS })) } },
    });
    const pager = new sns.Topic(this, 'Pager', { enforceSSL: true });
    Validations.of(pager).acknowledge({ id: 'AwsSolutions-SNS2', reason: 'Example: the platform pages with alarm names only, no data in the messages.' });

    this.recordings = new RecordingService(this, 'Recordings', {
      vpc,
      retentionDays: 30,
      useFargateSpot: true,
      maxConcurrentRecordings: 10,
      recorderCpu: 1024,
      recorderMemoryMiB: 2048,
      logRetention: logs.RetentionDays.THREE_MONTHS,
      allowedHosts: ['meet.platform.internal'],
      eventSource: 'meetings-platform.recordings',
      alarmActions: [new actions.SnsAction(pager)],
    });

    // The platform's backend hears about finished recordings through its own rule on the service's bus.
    this.recordingReadyQueue = new sqs.Queue(this, 'RecordingReady', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
    });
    Validations.of(this.recordingReadyQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'Example: the consumer of this queue is outside the example; it would own the dead-letter queue.',
    });
    new events.Rule(this, 'RecordingUploaded', {
      eventBus: this.recordings.eventBus,
      eventPattern: { source: ['meetings-platform.recordings'], detailType: ['Recording Status Changed'], detail: { status: ['UPLOADED'] } },
      targets: [new targets.SqsQueue(this.recordingReadyQueue)],
    });

    // A platform role that may read finished recordings (and nothing else of the service).
    const archiver = new iam.Role(this, 'Archiver', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.recordings.bucket.grantRead(archiver, 'recordings/*');
    Validations.of(archiver).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceText(this, this.recordings.bucket.arnForObjects('recordings/*'))}]`,
      reason: 'Example: the archiver reads every finished recording, whose keys exist only at run time.',
    });
    Validations.of(archiver).acknowledge({
      id: 'AwsSolutions-IAM5[Action::s3:GetObject*]',
      reason: 'Example: grantRead gives GetObject and its variants (attributes, versions) for the same objects.',
    });
    Validations.of(archiver).acknowledge({
      id: 'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      reason: 'Example: grantRead includes GetBucket* (location, policy status) on this bucket only.',
    });
    Validations.of(archiver).acknowledge({
      id: 'AwsSolutions-IAM5[Action::s3:List*]',
      reason: 'Example: grantRead includes List* on this bucket only.',
    });
  }
}
