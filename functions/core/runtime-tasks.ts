/** The recorders' ECS cluster, for MarkErrored's stop of a lost recorder; see runtime.ts. Undefined in local mode. */
import { createEcsClient } from './clients/ecs.ts';
import { ENV } from './config.ts';
import { traced } from './observability.ts';
import { once } from './runtime.ts';

export const recorderCluster = once(() => {
  const clusterArn = process.env[ENV.clusterArn];
  return clusterArn ? { ecs: traced(createEcsClient()), clusterArn } : undefined;
});
