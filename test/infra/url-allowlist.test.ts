/**
 * The construct's `allowedHosts` (SSRF allowlist) reaches both places that enforce the policy: the API
 * functions (the meeting URL check) and the recorder task (its egress proxy), as ALLOWED_HOSTS.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { RECORDER_CONTAINER_NAME } from '../../workflow/recording-workflow.ts';
import { RecordingService, type RecordingServiceProps } from '../../lib/recording-service.ts';
import { tempOutdir } from '../support/cdk-outdir.ts';

type Resource = { Type: string; Properties: Record<string, any> };

function synth(props: RecordingServiceProps) {
  // No esbuild bundling: only settings are looked at.
  const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TestStack');
  new RecordingService(stack, 'Service', props);
  return Template.fromStack(stack);
}

function allowedHostsOf(template: Template) {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
  const apiFunctions = functions.filter((fn) => fn.Properties.Environment?.Variables?.STATE_MACHINE_ARN);
  const taskDefinition = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as Resource;
  const container = (taskDefinition.Properties.ContainerDefinitions as any[]).find((c) => c.Name === RECORDER_CONTAINER_NAME);
  return {
    apiFunctionCount: apiFunctions.length,
    api: apiFunctions.map((fn) => fn.Properties.Environment.Variables.ALLOWED_HOSTS as string | undefined),
    recorder: (container.Environment as { Name: string; Value: string }[]).find((e) => e.Name === 'ALLOWED_HOSTS')?.Value,
  };
}

describe('RecordingService allowedHosts', () => {
  it('sets ALLOWED_HOSTS on every API function and on the recorder container', () => {
    const found = allowedHostsOf(synth({ allowedHosts: ['meet.corp.internal', '*.video.corp.internal:8443'] }));
    expect(found.apiFunctionCount).toBeGreaterThan(0);
    expect(new Set(found.api)).toEqual(new Set(['meet.corp.internal,*.video.corp.internal:8443']));
    expect(found.recorder).toBe('meet.corp.internal,*.video.corp.internal:8443');
  });

  it('sets nothing by default (public addresses only)', () => {
    const found = allowedHostsOf(synth({}));
    expect(new Set(found.api)).toEqual(new Set([undefined]));
    expect(found.recorder).toBeUndefined();
  });

  it('fails the synth on an entry the service would reject', () => {
    expect(() => synth({ allowedHosts: ['https://meet.corp.internal/'] })).toThrow(/Invalid allowed host/);
  });
});
