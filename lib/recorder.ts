import { Duration, IgnoreMode, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../functions/core/config.ts';
import { RECORDINGS_PREFIX } from '../functions/core/recording-files.ts';
import { RECORDER_CONTAINER_NAME } from '../workflow/recording-workflow.ts';
import { PROJECT_ROOT } from './project-paths.ts';
import { FARGATE_CPU_UNITS, FARGATE_MEMORY_MIB, isFargateSize } from './fargate-sizes.ts';
import { grantTableAccess, nagResourceText } from './table-access.ts';

export interface RecorderProps {
  /** VPC of the cluster and the tasks' security group. */
  readonly vpc: ec2.IVpc;
  /** The recordings table; the recorder reads desired state from it and writes its status. */
  readonly table: dynamodb.ITable;
  /** The media bucket; the recorder uploads under `recordings/` only. */
  readonly bucket: s3.IBucket;
  /**
   * Task CPU units. Must be a Fargate size that fits `memoryMiB`.
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Task memory in MiB. Chromium plus ffmpeg at 720p needs about 1.5 GiB.
   * @default 2048
   */
  readonly memoryMiB?: number;
  /**
   * CPU architecture of the task; the image is built for the matching platform.
   * @default ecs.CpuArchitecture.ARM64, or X86_64 with `useFargateSpot`
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Enables the cluster's Fargate capacity providers (FARGATE, FARGATE_SPOT) for recorders launched on Spot.
   * Spot runs x86_64 tasks only, so ARM64 is refused.
   * @default false
   */
  readonly useFargateSpot?: boolean;
  /**
   * Retention of the recorder's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * SSRF allowlist (`host`, `host:port`, `*.domain`): hosts the meeting page may reach although they resolve
   * to loopback, private or link-local addresses. Set as the container's ALLOWED_HOSTS.
   * @default - none: the page reaches public addresses only
   */
  readonly allowedHosts?: readonly string[];
}

/** Video settings baked into the task definition; the recorder reads them from its environment. */
const VIDEO_ENVIRONMENT = { VIDEO_WIDTH: '1280', VIDEO_HEIGHT: '720', VIDEO_FPS: '30' };

/**
 * The image's build context (the repository root) holds only what the Dockerfile copies: package*.json,
 * functions/, workflow/, recorder-image/ and scripts/build-recorder.ts. Nothing else is copied into the
 * cloud assembly, and a change elsewhere (tests, scratch folders, node_modules) leaves the image hash alone.
 */
export const IMAGE_CONTEXT = ['package.json', 'package-lock.json', 'functions', 'workflow', 'recorder-image', 'scripts/build-recorder.ts'];
const IMAGE_CONTEXT_EXCLUDES = ['*', ...IMAGE_CONTEXT.map((path) => `!${path}`)];

const ARCHITECTURE_PLATFORMS: Record<string, Platform> = {
  ARM64: Platform.LINUX_ARM64,
  X86_64: Platform.LINUX_AMD64,
};

/**
 * The recorder: an ECS cluster and the Fargate task definition the workflow launches once per recording,
 * with the image built from recorder-image/Dockerfile. The task has no inbound network access at all; it only
 * calls out (meeting page, S3, DynamoDB, Step Functions).
 *
 * The task role may write media only under `recordings/` and read/update recording items. Permission to
 * answer the workflow's task token is granted by whoever owns the state machine (it is created after this).
 */
export class Recorder extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RecorderProps) {
    super(scope, id);
    const cpu = props.cpu ?? 1024;
    const memoryMiB = props.memoryMiB ?? 2048;
    const cpuArchitecture = props.cpuArchitecture ?? (props.useFargateSpot ? ecs.CpuArchitecture.X86_64 : ecs.CpuArchitecture.ARM64);
    if (props.useFargateSpot && cpuArchitecture._cpuArchitecture !== ecs.CpuArchitecture.X86_64._cpuArchitecture) {
      throw new Error(
        `useFargateSpot needs cpuArchitecture X86_64, got ${cpuArchitecture._cpuArchitecture}: Fargate Spot runs x86_64 tasks only. ` +
          'Leave cpuArchitecture unset (Spot then builds and runs the recorder for X86_64) or set ecs.CpuArchitecture.X86_64.',
      );
    }
    validateFargateSize(cpu, memoryMiB);
    const platform = ARCHITECTURE_PLATFORMS[cpuArchitecture._cpuArchitecture];
    if (!platform) {
      throw new Error(`cpuArchitecture must be ARM64 or X86_64, got ${cpuArchitecture._cpuArchitecture}`);
    }

    // Container Insights: CPU and memory per task, which is what sizes `cpu` and `memoryMiB` (README, cost).
    // Billed per metric, aggregated by task family, so its cost does not grow with the number of recordings.
    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    // RunTask may name a capacity provider only when the cluster has it.
    if (props.useFargateSpot) this.cluster.enableFargateCapacityProviders();

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Recorder tasks: no inbound access, outbound to meetings and AWS APIs',
      allowAllOutbound: true,
    });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB: memoryMiB,
      runtimePlatform: { operatingSystemFamily: ecs.OperatingSystemFamily.LINUX, cpuArchitecture },
    });

    this.container = this.taskDefinition.addContainer(RECORDER_CONTAINER_NAME, {
      containerName: RECORDER_CONTAINER_NAME,
      image: ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
        file: 'recorder-image/Dockerfile',
        platform,
        exclude: IMAGE_CONTEXT_EXCLUDES,
        ignoreMode: IgnoreMode.DOCKER,
      }),
      essential: true,
      // The recorder finalizes the upload on SIGTERM (ECS StopTask); give it time before SIGKILL. 120 s is Fargate's maximum.
      stopTimeout: Duration.seconds(120),
      // The threads that draw and grab the pictures run SCHED_FIFO (recorder-image/src/realtime-threads.ts).
      // Fargate grants no CAP_SYS_NICE; an rtprio limit lets a process raise threads to that priority without
      // it. (Fargate documents ulimits as passed to the container; this one is not verified on Fargate here.
      // If it has no effect, the recorder logs the refusal once and records at normal priority.)
      ulimits: [{ name: ecs.UlimitName.RTPRIO, softLimit: 1, hardLimit: 1 }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'recorder', logGroup: this.logGroup }),
      environment: {
        [ENV.tableName]: props.table.tableName,
        [ENV.bucketName]: props.bucket.bucketName,
        ...VIDEO_ENVIRONMENT,
        ...(props.allowedHosts?.length ? { [ENV.allowedHosts]: props.allowedHosts.join(',') } : {}),
      },
    });

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds names (table, bucket), the video size and the host allowlist, none of them secret; ' +
        'the per-recording task token comes as a RunTask override. Secrets Manager would add a cost and a start-up call for no secrecy.',
    });

    const taskRole = this.taskDefinition.taskRole;
    // The multipart upload, its pending segments (written, then deleted once a part covers them), and the
    // listing that finds leftover segments at the end. See functions/core/media-upload.ts.
    grantRecordingMedia(taskRole, props.bucket, ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);
    // Status transitions are conditional PutItems; the upload manifest is an item beside the recording.
    // Only recording items (the recording and its manifest share the RECORDING# partition).
    grantTableAccess(taskRole, props.table, { items: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], partitions: ['recording'] });
  }
}

/**
 * Object actions on the recordings prefix, plus (unless `list: false`) ListBucket limited to that prefix. Object keys are
 * `recordings/{tenant}/{recording}/...`, created at run time, so the prefix wildcard is as narrow as a role
 * shared by every recording can be; the cdk-nag finding for it is acknowledged on the grantee with that reason.
 */
export function grantRecordingMedia(grantee: iam.IGrantable, bucket: s3.IBucket, actions: readonly string[], options: { list?: boolean } = {}): void {
  if (actions.length > 0) {
    iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [bucket.arnForObjects(`${RECORDINGS_PREFIX}*`)] });
    // On the role that holds the policy (a function's role is its sibling, not its child).
    const holder = Construct.isConstruct(grantee.grantPrincipal) ? grantee.grantPrincipal : grantee;
    if (Construct.isConstruct(holder)) {
      Validations.of(holder).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResourceText(holder, bucket.arnForObjects(`${RECORDINGS_PREFIX}*`))}]`,
        reason:
          `Objects under ${RECORDINGS_PREFIX} only: keys carry the tenant and recording ids, which exist only at run time, ` +
          'and this role serves every recording (ECS cannot give one task a narrower role).',
      });
    }
  }
  if (options.list === false) return;
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:ListBucket'],
    resourceArns: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': [`${RECORDINGS_PREFIX}*`] } },
  });
}

function validateFargateSize(cpu: number, memoryMiB: number): void {
  if (Token.isUnresolved(cpu) || Token.isUnresolved(memoryMiB)) return;
  const sizes = FARGATE_MEMORY_MIB[cpu];
  if (!sizes) {
    throw new Error(`recorderCpu must be one of ${FARGATE_CPU_UNITS.join(', ')}, got ${cpu}`);
  }
  const [min, max, step] = sizes;
  if (!isFargateSize(cpu, memoryMiB)) {
    throw new Error(`recorderMemoryMiB for ${cpu} CPU units must be in [${min}, ${max}] in steps of ${step}, got ${memoryMiB}`);
  }
}
