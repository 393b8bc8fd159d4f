/**
 * The workflow's Fargate Spot fallback, run on the same local runner as local mode (aws-local-stepfunctions)
 * with stand-ins for RunTask and the task functions: a Spot launch that ECS cannot place falls back to an
 * on-demand launch; without Spot the definition launches on demand only.
 */
import { describe, expect, it } from 'vitest';
import { LocalStepFunctions, StatesError, type CallbackLauncher } from '../../local/local-step-functions.ts';
import { RECORDER_LAUNCH_STATES, STATE, recordingWorkflowDefinition, type WorkflowResources } from '../../workflow/recording-workflow.ts';

const RESOURCES: WorkflowResources = {
  clusterArn: 'arn:aws:ecs:eu-west-1:000000000000:cluster/test',
  taskDefinitionArn: 'arn:aws:ecs:eu-west-1:000000000000:task-definition/recorder:1',
  subnetIds: ['subnet-1'],
  securityGroupIds: ['sg-1'],
  assignPublicIp: true,
  markUploadedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:mark-uploaded',
  markErroredFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:mark-errored',
};

interface Launch {
  state: string;
  params: Record<string, any>;
}

/** Runs one execution; `runTask` plays ECS for each launch: it throws (RunTask failed) or answers the token. */
async function runWorkflow(useFargateSpot: boolean, runTask: (launch: Launch, token: string, sfn: LocalStepFunctions) => void) {
  const launches: Launch[] = [];
  const outcomes: { task: string; payload: any }[] = [];
  let sfn: LocalStepFunctions;
  const launcher =
    (state: string): CallbackLauncher =>
    async (params, token) => {
      launches.push({ state, params });
      runTask({ state, params }, token, sfn);
    };
  const task = (name: string) => async (input: { Payload: unknown }) => {
    outcomes.push({ task: name, payload: input.Payload });
    return { StatusCode: 200, Payload: null };
  };
  sfn = new LocalStepFunctions({
    definition: recordingWorkflowDefinition({ ...RESOURCES, useFargateSpot }),
    stateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:test',
    tasks: { [STATE.markUploaded]: task(STATE.markUploaded), [STATE.markErrored]: task(STATE.markErrored) },
    callbacks: Object.fromEntries(RECORDER_LAUNCH_STATES.map((state) => [state, launcher(state)])),
  });
  const { executionArn } = sfn.startExecution('rec_1', JSON.stringify({ recordingId: 'rec_1' }));
  await sfn.settled(10_000);
  return { launches, outcomes, execution: sfn.describeExecution(executionArn) };
}

const RESULT = { files: [], stopReason: 'api', startedAt: 't0', stoppedAt: 't1', metrics: {} };
const noCapacity = () => {
  throw new StatesError('ECS.AmazonECSException', 'Capacity is unavailable at this time. Please try again later or in a different availability zone');
};

describe('Fargate Spot in the workflow', () => {
  it('launches on Spot with a capacity provider strategy, and a recorder that reports back is marked uploaded', async () => {
    // Act
    const { launches, outcomes, execution } = await runWorkflow(true, (_launch, token, sfn) => {
      setTimeout(() => sfn.sendTaskSuccess(token, JSON.stringify(RESULT)), 10);
    });

    // Assess
    expect(execution.status).toBe('SUCCEEDED');
    expect(launches.map((l) => l.state)).toEqual([STATE.runRecorder]);
    expect(launches[0]!.params.CapacityProviderStrategy).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(launches[0]!.params).not.toHaveProperty('LaunchType');
    expect(outcomes).toEqual([{ task: STATE.markUploaded, payload: { recordingId: 'rec_1', result: RESULT } }]);
  });

  it('falls back to an on-demand launch at once when Spot has no capacity', async () => {
    // Act
    const { launches, outcomes, execution } = await runWorkflow(true, (launch, token, sfn) => {
      if (launch.params.CapacityProviderStrategy) noCapacity();
      setTimeout(() => sfn.sendTaskSuccess(token, JSON.stringify(RESULT)), 10);
    });

    // Assess: one Spot attempt (not retried), then on demand, with the recording id and a new task token
    expect(execution.status).toBe('SUCCEEDED');
    expect(launches.map((l) => l.state)).toEqual([STATE.runRecorder, STATE.runRecorderOnDemand]);
    expect(launches[1]!.params.LaunchType).toBe('FARGATE');
    expect(launches[1]!.params).not.toHaveProperty('CapacityProviderStrategy');
    const environment = launches[1]!.params.Overrides.ContainerOverrides[0].Environment;
    expect(environment).toContainEqual({ Name: 'RECORDING_ID', Value: 'rec_1' });
    expect(outcomes.map((o) => o.task)).toEqual([STATE.markUploaded]);
  });

  it('a recorder failure on Spot is not relaunched on demand: the recording ends errored', async () => {
    // Act
    const { launches, outcomes, execution } = await runWorkflow(true, (_launch, token, sfn) => {
      setTimeout(() => sfn.sendTaskFailure(token, 'page_dns_failed', JSON.stringify({ message: 'no such host' })), 10);
    });

    // Assess
    expect(execution.status).toBe('FAILED');
    expect(launches.map((l) => l.state)).toEqual([STATE.runRecorder]);
    expect(outcomes).toEqual([{ task: STATE.markErrored, payload: { recordingId: 'rec_1', failure: expect.objectContaining({ Error: 'page_dns_failed' }) } }]);
  });

  it('without Spot, launches on demand only and has no fallback state', async () => {
    // Prepare
    const definition = recordingWorkflowDefinition(RESOURCES);

    // Act
    const { launches, execution } = await runWorkflow(false, (_launch, token, sfn) => {
      setTimeout(() => sfn.sendTaskSuccess(token, JSON.stringify(RESULT)), 10);
    });

    // Assess
    expect(Object.keys(definition.States)).not.toContain(STATE.runRecorderOnDemand);
    expect(execution.status).toBe('SUCCEEDED');
    expect(launches).toHaveLength(1);
    expect(launches[0]!.params.LaunchType).toBe('FARGATE');
  });
});
