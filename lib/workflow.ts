import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../functions/core/config.ts';
import { WORKFLOW_TASKS } from '../functions/routes.ts';
import { recordingWorkflowDefinition } from '../workflow/recording-workflow.ts';
import { HouseFunction } from './house-function.ts';
import { grantRecordingMedia } from './recorder.ts';
import { grantTableAccess, nagResourceText } from './table-access.ts';

export interface WorkflowProps {
  /** The recordings table; the task functions record the outcome in it. */
  readonly table: dynamodb.ITable;
  /** The media bucket; MarkErrored finishes the upload of a recorder that died (salvage). */
  readonly bucket: s3.IBucket;
  /** Cluster the recorder runs in. */
  readonly cluster: ecs.ICluster;
  /** The recorder's task definition (its task and execution roles are passed to ECS). */
  readonly taskDefinition: ecs.TaskDefinition;
  /** Subnets recorder tasks are launched in. */
  readonly subnets: ec2.SelectedSubnets;
  /** Security groups of the recorder tasks. */
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  /** Whether recorder tasks get a public IP (required in public subnets without NAT). */
  readonly assignPublicIp: boolean;
  /**
   * Launch recorders on Fargate Spot, and on demand when Spot has no capacity (workflow/recording-workflow.ts).
   * The cluster must have the Fargate capacity providers (Recorder enables them with the same prop).
   * @default false - on-demand Fargate only
   */
  readonly useFargateSpot?: boolean;
  /**
   * Retention of the state machine's and the task functions' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Execution history sent to CloudWatch Logs, without execution data (inputs and outputs: meeting URLs and
   * task tokens stay out of the logs). A recording's execution has about ten events, a few KB.
   * @default sfn.LogLevel.ALL
   */
  readonly logLevel?: sfn.LogLevel;
}

/**
 * The per-recording workflow: a STANDARD state machine built from the one ASL document in
 * workflow/recording-workflow.ts (local mode runs the same document), plus the two task functions that
 * record the outcome. CDK tokens inside the document resolve at deploy time.
 */
export class Workflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly markUploadedFunction: HouseFunction;
  public readonly markErroredFunction: HouseFunction;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.markUploadedFunction = new HouseFunction(this, 'MarkUploadedFunction', {
      entry: `functions/tasks/${WORKFLOW_TASKS.markUploaded}.ts`,
      description: 'Workflow task: marks a recording UPLOADED with its files',
      logRetention,
    });
    this.markErroredFunction = new HouseFunction(this, 'MarkErroredFunction', {
      entry: `functions/tasks/${WORKFLOW_TASKS.markErrored}.ts`,
      description: 'Workflow task: marks a recording ERRORED with the failure',
      logRetention,
    });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logRetention, removalPolicy: RemovalPolicy.RETAIN });

    const definition = recordingWorkflowDefinition({
      clusterArn: props.cluster.clusterArn,
      taskDefinitionArn: props.taskDefinition.taskDefinitionArn,
      subnetIds: props.subnets.subnetIds,
      securityGroupIds: props.securityGroups.map((group) => group.securityGroupId),
      assignPublicIp: props.assignPublicIp,
      markUploadedFunctionArn: this.markUploadedFunction.functionArn,
      markErroredFunctionArn: this.markErroredFunction.functionArn,
      useFargateSpot: props.useFargateSpot ?? false,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromString(Stack.of(this).toJsonString(definition)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: props.logLevel ?? sfn.LogLevel.ALL, includeExecutionData: false },
    });

    // What the RunTask (.waitForTaskToken) integration needs, per the Step Functions IAM docs for ECS: RunTask on
    // this task definition, in this cluster only, and PassRole on its roles. The events:PutRule/PutTargets/DescribeRule
    // permissions that CDK's EcsRunTask adds are only for `.sync` (Step Functions watches the task through an
    // EventBridge rule); with a task token the recorder reports back itself, so they are left out.
    const taskDefinition = props.taskDefinition;
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RunTask'],
        resources: [taskDefinition.taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [taskDefinition.taskRole.roleArn, taskDefinition.obtainExecutionRole().roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    // Invoke of the unqualified functions only (the ASL calls them so); grantInvoke would add every version (`:*`).
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.markUploadedFunction.functionArn, this.markErroredFunction.functionArn],
      }),
    );

    // Transitions are conditional PutItems (see RecordingRepository.transition).
    // DeleteItem: a recording that ends releases its meeting lock.
    for (const fn of [this.markUploadedFunction, this.markErroredFunction]) {
      fn.bindTable(props.table, {
        items: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        partitions: ['recording', 'meetingLock'],
      });
      // ...and leaves the live-recording set (a conditional UpdateItem that removes its entry).
      grantTableAccess(fn, props.table, { items: ['dynamodb:UpdateItem'], partitions: ['liveRecordings'] });
    }
    // Salvage: read the pending segments, upload them as the last part, complete, delete the segments.
    this.markErroredFunction.bindBucket(props.bucket);
    grantRecordingMedia(this.markErroredFunction, props.bucket, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']);
    this.grantStopLostRecorders(props.cluster);
  }

  /**
   * MarkErrored stops a lost recorder's task (functions/core/recorder-tasks.ts): ListTasks by `startedBy` and
   * StopTask, both in the recorders' cluster only. ListTasks has no task-level resource, so it is limited by the
   * `ecs:cluster` condition; StopTask by the cluster's task ARNs and the same condition.
   */
  private grantStopLostRecorders(cluster: ecs.ICluster): void {
    const fn = this.markErroredFunction;
    fn.addEnvironment(ENV.clusterArn, cluster.clusterArn);
    const inCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }));
    const tasks = Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:StopTask'], resources: [tasks], conditions: inCluster }));
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceText(this, tasks)}]`,
      reason: "The tasks of the recorders' cluster only (also required by the ecs:cluster condition); task ids exist only at run time.",
    });
  }
}
