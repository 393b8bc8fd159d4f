import { ECSClient } from '@aws-sdk/client-ecs';
import { ENV } from '../config.ts';
import { endpointOverride, type Env } from './endpoint.ts';

export function createEcsClient(env: Env = process.env): ECSClient {
  return new ECSClient({ endpoint: endpointOverride(env, ENV.ecsEndpoint), maxAttempts: 5 });
}
