import { App } from 'aws-cdk-lib';
import { MeetingRecorderStack } from '../lib/meeting-recorder-stack.ts';

const app = new App();
new MeetingRecorderStack(app, 'MeetingRecorder', {
  description: 'Self-hosted meeting recording service',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
