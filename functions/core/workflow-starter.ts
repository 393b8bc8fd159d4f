/** Starts the per-recording workflow. The execution name is the recording id, so a retry cannot start two. */
import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { WorkflowInput } from '../../workflow/recording-workflow.ts';

export interface WorkflowStarter {
  start(recordingId: string): Promise<void>;
}

export class StepFunctionsWorkflowStarter implements WorkflowStarter {
  private readonly sfn: SFNClient;
  private readonly stateMachineArn: string;

  constructor(sfn: SFNClient, stateMachineArn: string) {
    this.sfn = sfn;
    this.stateMachineArn = stateMachineArn;
  }

  async start(recordingId: string): Promise<void> {
    const input: WorkflowInput = { recordingId };
    try {
      await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: recordingId, input: JSON.stringify(input) }));
    } catch (err) {
      if (err instanceof ExecutionAlreadyExists) return;
      throw err;
    }
  }
}
