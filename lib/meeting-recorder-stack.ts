import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RecordingService } from './recording-service.ts';
import type { RecordingServiceProps } from './recording-service.ts';

export interface MeetingRecorderStackProps extends StackProps {
  /**
   * Settings of the recording service.
   * @default - RecordingService defaults
   */
  readonly service?: RecordingServiceProps;
}

/** The deployable app: the recording service and the outputs a caller needs to use it. */
export class MeetingRecorderStack extends Stack {
  public readonly service: RecordingService;

  constructor(scope: Construct, id: string, props: MeetingRecorderStackProps = {}) {
    super(scope, id, props);
    this.service = new RecordingService(this, 'RecordingService', props.service);

    new CfnOutput(this, 'ApiUrl', { value: this.service.apiUrl, description: 'Base URL of the HTTP API (SigV4, service execute-api)' });
    new CfnOutput(this, 'BucketName', { value: this.service.bucket.bucketName, description: 'Recording media bucket' });
    new CfnOutput(this, 'EventBusName', { value: this.service.eventBus.eventBusName, description: 'Status events ("Recording Status Changed")' });
    new CfnOutput(this, 'TableName', { value: this.service.table.tableName, description: 'Recordings table' });
  }
}
