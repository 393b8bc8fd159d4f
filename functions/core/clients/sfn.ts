import { SFNClient } from '@aws-sdk/client-sfn';
import { ENV } from '../config.ts';
import { endpointOverride, type Env } from './endpoint.ts';

export function createSfnClient(env: Env = process.env): SFNClient {
  return new SFNClient({ endpoint: endpointOverride(env, ENV.sfnEndpoint), maxAttempts: 5 });
}
