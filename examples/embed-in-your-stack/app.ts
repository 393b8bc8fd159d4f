import { App } from 'aws-cdk-lib';
import { MeetingsPlatformStack } from './platform-stack.ts';

const app = new App();
new MeetingsPlatformStack(app, 'MeetingsPlatform', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
