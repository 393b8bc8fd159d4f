/**
 * The `maxConcurrentRecordings` prop in the template: every function that can start a recording (the API's and
 * the meeting trigger) gets it as MAX_CONCURRENT_RECORDINGS, 50 unless set; a value that is not a positive
 * integer fails the synth. The grants for the live-recording set are asserted with the other least-privilege
 * grants in recording-service.test.ts; the limit itself is tested over HTTP in
 * test/integration/concurrency-limit.test.ts.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONCURRENT_RECORDINGS, ENV } from '../../functions/core/config.ts';
import { RecordingService, type RecordingServiceProps } from '../../lib/recording-service.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

function synth(props: RecordingServiceProps) {
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'LimitStack');
  new RecordingService(stack, 'Service', props);
  return Template.fromStack(stack);
}

type LambdaFunction = { Properties: { Description?: string; Environment?: { Variables?: Record<string, unknown> } } };

/** MAX_CONCURRENT_RECORDINGS of the API's create function and the meeting trigger function. */
function limitsOf(template: Template): Record<string, unknown> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as LambdaFunction[];
  const limitOf = (description: RegExp) => {
    const fn = functions.find((f) => description.test(f.Properties.Description ?? ''));
    expect(fn, String(description)).toBeDefined();
    return fn!.Properties.Environment?.Variables?.[ENV.maxConcurrentRecordings];
  };
  return { api: limitOf(/^POST \/v1\/recordings$/), meetingTrigger: limitOf(/Meeting Started/) };
}

describe('maxConcurrentRecordings', () => {
  it(`defaults to ${DEFAULT_MAX_CONCURRENT_RECORDINGS} for the API and the meeting trigger`, () => {
    expect(limitsOf(synth({}))).toEqual({ api: '50', meetingTrigger: '50' });
  });

  it('is passed to every function that starts recordings', () => {
    expect(limitsOf(synth({ maxConcurrentRecordings: 12 }))).toEqual({ api: '12', meetingTrigger: '12' });
  });

  it.each([0, -1, 2.5])('%s fails the synth', (maxConcurrentRecordings) => {
    expect(() => synth({ maxConcurrentRecordings })).toThrow(/maxConcurrentRecordings must be a positive integer/);
  });
});
