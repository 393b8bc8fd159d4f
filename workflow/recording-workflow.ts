/**
 * The recording workflow in Amazon States Language, written once. CDK deploys it with real ARNs
 * (tokens), and local mode runs the very same document with aws-local-stepfunctions, overriding
 * only the Task states' resources with local stand-ins (see local/local-workflow.ts).
 */
import type { RecordingFile, RecordingGap, StopReason } from '../functions/core/recording.ts';

/** Names of the Task states; local mode overrides each of these by name. */
export const STATE = {
  runRecorder: 'RunRecorder',
  markUploaded: 'MarkUploaded',
  markErrored: 'MarkErrored',
  failed: 'RecordingFailed',
} as const;

/** Name of the recorder container in the task definition; ContainerOverrides refer to it. */
export const RECORDER_CONTAINER_NAME = 'recorder';

/**
 * A recorder that has not heartbeated for this long is treated as lost (States.HeartbeatTimeout) and
 * the recording ends ERRORED. The recorder heartbeats every RECORDER_HEARTBEAT_INTERVAL_SECONDS.
 */
export const RECORDER_HEARTBEAT_SECONDS = 60;
export const RECORDER_HEARTBEAT_INTERVAL_SECONDS = 10;
/** Upper bound for one recording (the task-level timeout); 25 h covers the 24 h max duration. */
export const RECORDER_TIMEOUT_SECONDS = 25 * 60 * 60;

export interface WorkflowResources {
  clusterArn: string;
  taskDefinitionArn: string;
  subnetIds: string[];
  securityGroupIds: string[];
  assignPublicIp: boolean;
  markUploadedFunctionArn: string;
  markErroredFunctionArn: string;
}

/** Execution input, written by the create-recording handler. */
export interface WorkflowInput {
  recordingId: string;
}

const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** A workflow-task Lambda invoked with the recording id plus `payload`; its result is discarded. */
function lambdaTask(functionArn: string, payload: Record<string, string>) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: functionArn, Payload: { 'recordingId.$': '$.recordingId', ...payload } },
    ResultPath: null,
    Retry: [{ ErrorEquals: LAMBDA_TRANSIENT_ERRORS, IntervalSeconds: 1, MaxAttempts: 5, BackoffRate: 2 }],
  };
}

export function recordingWorkflowDefinition(r: WorkflowResources) {
  return {
    Comment: 'One execution per recording: run the recorder on Fargate, then record the outcome.',
    StartAt: STATE.runRecorder,
    States: {
      [STATE.runRecorder]: {
        Type: 'Task',
        Comment: 'The recorder reports back with SendTaskSuccess/SendTaskFailure and heartbeats while it records.',
        Resource: 'arn:aws:states:::ecs:runTask.waitForTaskToken',
        HeartbeatSeconds: RECORDER_HEARTBEAT_SECONDS,
        TimeoutSeconds: RECORDER_TIMEOUT_SECONDS,
        Parameters: {
          LaunchType: 'FARGATE',
          Cluster: r.clusterArn,
          TaskDefinition: r.taskDefinitionArn,
          NetworkConfiguration: {
            AwsvpcConfiguration: {
              Subnets: r.subnetIds,
              SecurityGroups: r.securityGroupIds,
              AssignPublicIp: r.assignPublicIp ? 'ENABLED' : 'DISABLED',
            },
          },
          Overrides: {
            ContainerOverrides: [
              {
                Name: RECORDER_CONTAINER_NAME,
                Environment: [
                  { Name: 'RECORDING_ID', 'Value.$': '$.recordingId' },
                  { Name: 'TASK_TOKEN', 'Value.$': '$$.Task.Token' },
                ],
              },
            ],
          },
        },
        ResultPath: '$.recorder',
        Retry: [
          {
            Comment: 'Fargate capacity or throttling when launching the task.',
            ErrorEquals: ['ECS.AmazonECSException', 'ECS.ThrottlingException'],
            IntervalSeconds: 5,
            MaxAttempts: 3,
            BackoffRate: 2,
          },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.markErrored }],
        Next: STATE.markUploaded,
      },
      [STATE.markUploaded]: {
        ...lambdaTask(r.markUploadedFunctionArn, { 'result.$': '$.recorder' }),
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.markErrored }],
        End: true,
      },
      [STATE.markErrored]: {
        ...lambdaTask(r.markErroredFunctionArn, { 'failure.$': '$.failure' }),
        Next: STATE.failed,
      },
      [STATE.failed]: {
        Type: 'Fail',
        Error: 'RecordingFailed',
        Cause: 'The recording ended ERRORED; see the recording item for error.code and error.message.',
      },
    },
  };
}

/** What the recorder sends with SendTaskSuccess; the MarkUploaded task receives it as `result`. */
export interface RecorderResult {
  files: RecordingFile[];
  stopReason: StopReason;
  startedAt: string;
  stoppedAt: string;
  gaps?: RecordingGap[];
  metrics: Record<string, number>;
}

/**
 * What the recorder sends as the `cause` (JSON) of SendTaskFailure: the message, and what it kept of the
 * recording when it had started capturing.
 */
export interface RecorderFailureCause {
  message: string;
  files?: RecordingFile[];
  gaps?: RecordingGap[];
  startedAt?: string;
}
