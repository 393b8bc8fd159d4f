/**
 * The recording workflow in Amazon States Language, written once. CDK deploys it with real ARNs
 * (tokens), and local mode runs the very same document with aws-local-stepfunctions, overriding
 * only the Task states' resources with local stand-ins (see local/local-stack.ts).
 */
import type { RecordingFile, RecordingGap, StopReason } from '../functions/core/recording.ts';

/** Names of the Task states; local mode overrides each of these by name. */
export const STATE = {
  runRecorder: 'RunRecorder',
  /** Only with `useFargateSpot`: the on-demand launch that RunRecorder falls back to when Spot cannot place the task. */
  runRecorderOnDemand: 'RunRecorderOnDemand',
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
/**
 * Bound of a whole execution: the recorder's bound plus an hour for the outcome tasks and their retries. An
 * execution that reaches it hung somewhere; it ends TimedOut, which the stuck-executions alarm watches
 * (lib/monitoring.ts).
 */
export const WORKFLOW_TIMEOUT_SECONDS = RECORDER_TIMEOUT_SECONDS + 60 * 60;

export interface WorkflowResources {
  clusterArn: string;
  taskDefinitionArn: string;
  subnetIds: string[];
  securityGroupIds: string[];
  assignPublicIp: boolean;
  markUploadedFunctionArn: string;
  markErroredFunctionArn: string;
  /**
   * Launch the recorder on Fargate Spot (capacity provider FARGATE_SPOT), falling back to on-demand Fargate
   * when Spot cannot place the task. The cluster must have the Fargate capacity providers.
   * @default false - on-demand Fargate (LaunchType FARGATE)
   */
  useFargateSpot?: boolean;
}

/** The states that launch the recorder (`.waitForTaskToken`); local mode serves each with its RunTask stand-in. */
export const RECORDER_LAUNCH_STATES = [STATE.runRecorder, STATE.runRecorderOnDemand] as const;

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

/** Where a recorder task is placed: the launch type, or a capacity provider strategy (RunTask takes one or the other). */
type Placement = { LaunchType: 'FARGATE' } | { CapacityProviderStrategy: { CapacityProvider: 'FARGATE_SPOT'; Weight: number }[] };

const ON_DEMAND: Placement = { LaunchType: 'FARGATE' };
const SPOT: Placement = { CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }] };

/**
 * Step Functions reports RunTask's own failures, placement failures included ("Capacity is unavailable at this
 * time"), as ECS.AmazonECSException.
 */
const RUN_TASK_FAILED = 'ECS.AmazonECSException';
const RUN_TASK_THROTTLED = 'ECS.ThrottlingException';

/** A state that launches the recorder task and waits for it to report back through the task token. */
function runRecorderState(r: WorkflowResources, placement: Placement, retry: Record<string, unknown>[], catches: Record<string, unknown>[]) {
  return {
    Type: 'Task',
    Comment: 'The recorder reports back with SendTaskSuccess/SendTaskFailure and heartbeats while it records.',
    Resource: 'arn:aws:states:::ecs:runTask.waitForTaskToken',
    HeartbeatSeconds: RECORDER_HEARTBEAT_SECONDS,
    TimeoutSeconds: RECORDER_TIMEOUT_SECONDS,
    Parameters: {
      ...placement,
      Cluster: r.clusterArn,
      TaskDefinition: r.taskDefinitionArn,
      // The recording id (28 characters; ECS allows 36) finds the task again: MarkErrored stops a lost recorder's task.
      'StartedBy.$': '$.recordingId',
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
    Retry: retry,
    Catch: [...catches, { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.markErrored }],
    Next: STATE.markUploaded,
  };
}

/**
 * The workflow. On demand (the default), RunRecorder launches with LaunchType FARGATE and retries launch
 * failures (Fargate capacity, throttling) 3 times, 5 s, 10 s and 20 s apart.
 *
 * With `useFargateSpot`, RunRecorder asks for FARGATE_SPOT, and a launch that fails (no Spot capacity) goes at
 * once to RunRecorderOnDemand, the on-demand launch with its retries. A capacity provider strategy cannot fall
 * back by itself: ECS spreads tasks over a strategy's providers by weight and base, and never moves a task to
 * another provider when one has no capacity. Falling back at once, rather than retrying Spot, keeps the
 * meeting's first minutes from waiting for Spot capacity.
 *
 * A Spot task that is interrupted gets SIGTERM two minutes before it is stopped; the recorder then finishes
 * and uploads what it has (stopReason `task_stopped`, within the task's 120 s stop timeout), and the recording
 * ends there: no second recorder is started for the rest of the meeting.
 */
export function recordingWorkflowDefinition(r: WorkflowResources) {
  const retryLaunch = [
    {
      Comment: 'Fargate capacity or throttling when launching the task.',
      ErrorEquals: [RUN_TASK_FAILED, RUN_TASK_THROTTLED],
      IntervalSeconds: 5,
      MaxAttempts: 3,
      BackoffRate: 2,
    },
  ];
  const launchStates = r.useFargateSpot
    ? {
        [STATE.runRecorder]: runRecorderState(
          r,
          SPOT,
          [{ Comment: 'Throttling when launching the task.', ErrorEquals: [RUN_TASK_THROTTLED], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
          [{ ErrorEquals: [RUN_TASK_FAILED], ResultPath: '$.spotLaunchFailure', Next: STATE.runRecorderOnDemand }],
        ),
        [STATE.runRecorderOnDemand]: runRecorderState(r, ON_DEMAND, retryLaunch, []),
      }
    : { [STATE.runRecorder]: runRecorderState(r, ON_DEMAND, retryLaunch, []) };
  return {
    Comment: r.useFargateSpot
      ? 'One execution per recording: run the recorder on Fargate Spot (on-demand Fargate when Spot has no capacity), then record the outcome.'
      : 'One execution per recording: run the recorder on Fargate, then record the outcome.',
    StartAt: STATE.runRecorder,
    TimeoutSeconds: WORKFLOW_TIMEOUT_SECONDS,
    States: {
      ...launchStates,
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
