/**
 * The `useFargateSpot` prop in the template: the workflow launches the recorder with a FARGATE_SPOT capacity
 * provider strategy and falls back to an on-demand launch, the cluster has the Fargate capacity providers, and
 * the task is x86_64 (Spot runs no ARM64 tasks). Without it, the one launch is LaunchType FARGATE on ARM64.
 * The fallback itself is run in test/unit/workflow-spot-fallback.test.ts.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { describe, expect, it } from 'vitest';
import { RecordingService, type RecordingServiceProps } from '../../lib/recording-service.ts';
import { STATE } from '../../workflow/recording-workflow.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

/** Synthesizes the service without bundling the functions (only the infrastructure settings matter here). */
function synth(props: RecordingServiceProps) {
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'SpotStack');
  new RecordingService(stack, 'Service', props);
  return Template.fromStack(stack);
}

/** The state machine's ASL, with each CloudFormation token (ARNs, ids) replaced by the string "TOKEN". */
function workflowDefinition(template: Template): { States: Record<string, any> } {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as { Properties: { DefinitionString: any } }[];
  const definition = machine!.Properties.DefinitionString;
  const parts: unknown[] = typeof definition === 'string' ? [definition] : definition['Fn::Join'][1];
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(''));
}

function cpuArchitecture(template: Template): string {
  const [taskDefinition] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as { Properties: any }[];
  return taskDefinition!.Properties.RuntimePlatform.CpuArchitecture;
}

describe('Fargate Spot', () => {
  it('on: the recorder launches on FARGATE_SPOT and falls back to on-demand Fargate; the cluster has the Fargate capacity providers', () => {
    // Act
    const template = synth({ useFargateSpot: true });
    const states = workflowDefinition(template).States;

    // Assess: the Spot launch
    const spot = states[STATE.runRecorder];
    expect(spot.Parameters.CapacityProviderStrategy).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(spot.Parameters).not.toHaveProperty('LaunchType');
    expect(spot.Catch[0]).toEqual({ ErrorEquals: ['ECS.AmazonECSException'], ResultPath: '$.spotLaunchFailure', Next: STATE.runRecorderOnDemand });
    // ...and its on-demand fallback, which retries as the on-demand workflow does
    const onDemand = states[STATE.runRecorderOnDemand];
    expect(onDemand.Parameters.LaunchType).toBe('FARGATE');
    expect(onDemand.Parameters).not.toHaveProperty('CapacityProviderStrategy');
    expect(onDemand.Retry[0].ErrorEquals).toEqual(['ECS.AmazonECSException', 'ECS.ThrottlingException']);
    expect(onDemand.Next).toBe(STATE.markUploaded);
    // RunTask may name FARGATE_SPOT only when the cluster has it
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', { CapacityProviders: ['FARGATE', 'FARGATE_SPOT'] });
    // Spot runs x86_64 tasks: picked when no architecture is given
    expect(cpuArchitecture(template)).toBe('X86_64');
  });

  it('off (the default): one on-demand launch (LaunchType FARGATE) on ARM64, and no capacity providers', () => {
    // Act
    const template = synth({});
    const states = workflowDefinition(template).States;

    // Assess
    expect(states[STATE.runRecorder].Parameters.LaunchType).toBe('FARGATE');
    expect(states[STATE.runRecorder].Parameters).not.toHaveProperty('CapacityProviderStrategy');
    expect(states).not.toHaveProperty(STATE.runRecorderOnDemand);
    template.resourceCountIs('AWS::ECS::ClusterCapacityProviderAssociations', 0);
    expect(cpuArchitecture(template)).toBe('ARM64');
  });

  it('on with an explicit X86_64 architecture synthesizes', () => {
    expect(cpuArchitecture(synth({ useFargateSpot: true, cpuArchitecture: ecs.CpuArchitecture.X86_64 }))).toBe('X86_64');
  });

  it('on with ARM64 fails the synth, saying why', () => {
    expect(() => synth({ useFargateSpot: true, cpuArchitecture: ecs.CpuArchitecture.ARM64 })).toThrow(
      /useFargateSpot needs cpuArchitecture X86_64, got ARM64: Fargate Spot runs x86_64 tasks only/,
    );
  });
});
