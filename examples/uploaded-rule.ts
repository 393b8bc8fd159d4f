/**
 * The README's example of a customer's own rule on the service's bus: UPLOADED events of one meeting go to
 * the customer's function (here, one that would post the file link into a chat). test/infra/events.test.ts
 * synthesizes it and matches the synthesized pattern against real events.
 */
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { RecordingService } from '../lib/recording-service.ts';

export class StandupUploadedRule extends Construct {
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: { service: RecordingService; postToChat: lambda.IFunction }) {
    super(scope, id);
    // README: begin
    this.rule = new events.Rule(this, 'StandupUploaded', {
      eventBus: props.service.eventBus,
      eventPattern: {
        source: ['meeting-recorder'],
        detailType: ['Recording Status Changed'],
        detail: { status: ['UPLOADED'], meetingId: ['weekly-standup'] },
      },
      targets: [new targets.LambdaFunction(props.postToChat)],
    });
    // README: end
  }
}
