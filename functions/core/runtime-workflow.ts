/** Dependencies that start recording workflows (Step Functions); see runtime.ts. */
import { createSfnClient } from './clients/sfn.ts';
import { ENV, requireEnv } from './config.ts';
import type { MeetingEventDeps } from './meeting-events.ts';
import { logger, traced } from './observability.ts';
import { credentialStore, once, recordingRepository, urlPolicy } from './runtime.ts';
import { checkUrlAllowed } from './url-policy.ts';
import { StepFunctionsWorkflowStarter } from './workflow-starter.ts';

export const workflowStarter = once(() => new StepFunctionsWorkflowStarter(traced(createSfnClient()), requireEnv(ENV.stateMachineArn)));

/** What the meeting-events trigger needs: the API's create path (lock, SSRF check, workflow) and the tenants. */
export const meetingEventDeps = once(
  (): MeetingEventDeps => ({
    repository: recordingRepository(),
    workflow: workflowStarter(),
    checkUrl: (url) => checkUrlAllowed(url, urlPolicy()),
    tenantExists: async (tenantId) => (await credentialStore().getTenant(tenantId)) !== undefined,
    log: (level, message, fields) => (level === 'WARN' ? logger.warn(message, fields) : logger.info(message, fields)),
  }),
);
