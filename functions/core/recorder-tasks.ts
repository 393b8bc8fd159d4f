/**
 * A recorder the workflow gave up on (no heartbeat for a minute, or past its time bound) may still be running and
 * billing: hung, or cut off from Step Functions. The recorder stops itself when its heartbeats are refused, but a
 * hung one cannot, so MarkErrored stops its task. RunTask tags the task with the recording id (`startedBy`).
 */
import { ListTasksCommand, StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';

export async function stopRecorderTasks(ecs: ECSClient, clusterArn: string, recordingId: string, reason: string): Promise<string[]> {
  const listed = await ecs.send(new ListTasksCommand({ cluster: clusterArn, startedBy: recordingId, desiredStatus: 'RUNNING' }));
  const taskArns = listed.taskArns ?? [];
  for (const task of taskArns) {
    // ECS keeps at most 255 characters of the reason.
    await ecs.send(new StopTaskCommand({ cluster: clusterArn, task, reason: reason.slice(0, 255) }));
  }
  return taskArns;
}
